"""Microsoft Teams workflow webhooks: an alert as an Adaptive Card in a ``message``.

The Teams "Post to a channel when a webhook request is received" workflow takes a
``message`` whose ``attachments`` hold the card, ``contentType``
``application/vnd.microsoft.card.adaptive``. Version 1.4 of the card schema: what every
Teams client renders.
"""

from __future__ import annotations

from typing import Any, Final

import httpx
import orjson

from schemas.outputs import CoachingAlert
from sinks.notify_http import post
from sinks.notify_text import digest_title, facts, rep_url, title

CARD_VERSION: Final = "1.4"
CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD: Final = "application/vnd.microsoft.card.adaptive"
_COLOR: Final = {"warning": "Warning", "info": "Accent", "positive": "Good"}


def adaptive_card(alert: CoachingAlert, page_url: str | None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": [
            {"type": "TextBlock", "text": title(alert), "weight": "Bolder", "size": "Medium",
             "color": _COLOR[alert.severity], "wrap": True},
            {"type": "TextBlock", "text": alert.text, "wrap": True},
            {"type": "FactSet",
             "facts": [{"title": label, "value": value} for label, value in facts(alert)]},
        ],
    }  # fmt: skip
    link = rep_url(alert, page_url)
    if link is not None:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open scorecard", "url": link}]
    return card


def digest_card(alerts: list[CoachingAlert], page_url: str | None) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": digest_title(alerts), "weight": "Bolder",
         "size": "Medium", "wrap": True},
    ]  # fmt: skip
    for alert in alerts:
        link = rep_url(alert, page_url)
        who = alert.rep_id if link is None else f"[{alert.rep_id}]({link})"
        body += [
            {"type": "TextBlock", "text": title(alert), "weight": "Bolder",
             "color": _COLOR[alert.severity], "wrap": True, "separator": True},
            {"type": "TextBlock", "text": f"{who}: {alert.text}", "wrap": True},
        ]  # fmt: skip
    return {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION,
            "body": body}  # fmt: skip


def teams_message(card: dict[str, Any]) -> dict[str, Any]:
    """The workflow's envelope around one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


class TeamsSender:
    def __init__(
        self, client: httpx.AsyncClient, url: str, timeout_s: float, page_url: str | None
    ) -> None:
        self._client, self._url, self._timeout_s, self._page_url = client, url, timeout_s, page_url

    async def send(self, alert: CoachingAlert) -> None:
        body = orjson.dumps(teams_message(adaptive_card(alert, self._page_url)))
        await post(self._client, self._url, body, {}, self._timeout_s)

    async def send_digest(self, alerts: list[CoachingAlert]) -> None:
        body = orjson.dumps(teams_message(digest_card(alerts, self._page_url)))
        await post(self._client, self._url, body, {}, self._timeout_s)
