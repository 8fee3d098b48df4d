"""Slack incoming webhooks: an alert as a Block Kit message, inside Slack's limits.

Slack documents (Block Kit reference): at most 50 blocks a message; a header's plain text
150 characters; a section's text 3,000; a section's ``fields`` 10 items of 2,000 each. The
top-level ``text`` is what notifications and screen readers show. Text longer than a limit
is cut with an ellipsis rather than refused by Slack with a 400 (which would park it).
"""

from __future__ import annotations

from typing import Any, Final

import httpx
import orjson

from schemas.outputs import CoachingAlert
from sinks.notify_http import post
from sinks.notify_text import digest_title, facts, rep_url, title

HEADER_CHARS: Final = 150
SECTION_CHARS: Final = 3000
FIELD_CHARS: Final = 2000
FIELDS_PER_SECTION: Final = 10
MAX_BLOCKS: Final = 50


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """mrkdwn's three control characters, as Slack asks (``&amp;``, ``&lt;``, ``&gt;``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: CoachingAlert, page_url: str | None) -> dict[str, Any]:
    """The incoming webhook's JSON: header, the alert's text, its facts, a link to the rep."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title(alert), HEADER_CHARS),
                                    "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": cut(escape(alert.text), SECTION_CHARS)}},
    ]  # fmt: skip
    rows = [
        {"type": "mrkdwn", "text": cut(f"*{escape(label)}*\n{escape(value)}", FIELD_CHARS)}
        for label, value in facts(alert)
    ]
    for start in range(0, len(rows), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": rows[start : start + FIELDS_PER_SECTION]})
    link = rep_url(alert, page_url)
    context = f"alert `{escape(alert.alert_id)}`"
    if link is not None:
        context = f"<{link}|Open {escape(alert.rep_id)}'s scorecard> · {context}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": cut(f"{title(alert)}: {alert.text}", SECTION_CHARS),
            "blocks": blocks[:MAX_BLOCKS]}  # fmt: skip


def slack_digest(alerts: list[CoachingAlert], page_url: str | None) -> dict[str, Any]:
    """One message for the day: a header, then a section per alert (as many as Slack's
    block limit allows, the rest counted in a closing context)."""
    heading = digest_title(alerts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading, "emoji": True}}
    ]
    room = MAX_BLOCKS - 2
    for alert in alerts[:room]:
        link = rep_url(alert, page_url)
        who = escape(alert.rep_id) if link is None else f"<{link}|{escape(alert.rep_id)}>"
        text = f"*{escape(title(alert))}*\n{who}: {escape(alert.text)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": cut(text, SECTION_CHARS)}})  # fmt: skip
    if len(alerts) > room:
        more = f"and {len(alerts) - room} more on the alerts page"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": heading, "blocks": blocks}


class SlackSender:
    def __init__(
        self, client: httpx.AsyncClient, url: str, timeout_s: float, page_url: str | None
    ) -> None:
        self._client, self._url, self._timeout_s, self._page_url = client, url, timeout_s, page_url

    async def send(self, alert: CoachingAlert) -> None:
        body = orjson.dumps(slack_message(alert, self._page_url))
        await post(self._client, self._url, body, {}, self._timeout_s)

    async def send_digest(self, alerts: list[CoachingAlert]) -> None:
        body = orjson.dumps(slack_digest(alerts, self._page_url))
        await post(self._client, self._url, body, {}, self._timeout_s)
