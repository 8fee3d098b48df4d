"""One POST to a webhook receiver, its answer turned into success or a typed failure.

Shared by the Standard Webhooks, Slack and Teams channels: they differ in the body and
headers, not in what an answer means. 2xx is delivered; 429, 408 and 5xx, timeouts and
connection errors are ``RetryLater`` (with the receiver's ``Retry-After`` when it sent
one); any other answer is ``Refused`` with the receiver's words, since sending the same
request again cannot change it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import httpx

from sinks.exceptions import Refused, RetryLater

ANSWER_CHARS: Final = 300
"""How much of a refusal's body is kept: enough to read why, bounded in Redis and logs."""
_TRANSIENT: Final = frozenset({408, 425, 429})


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
) -> None:
    """POST ``body``; returns when the receiver answered 2xx, raises ``RetryLater`` or
    ``Refused`` otherwise. The URL never appears in an error (its path is a secret)."""
    try:
        response = await client.post(
            url, content=body, headers={"content-type": "application/json", **headers},
            timeout=timeout_s,
        )  # fmt: skip
    except httpx.TimeoutException:
        raise RetryLater(f"no answer within {timeout_s:g}s") from None
    except httpx.TransportError as exc:
        raise RetryLater(f"cannot reach the receiver ({type(exc).__name__})") from None
    if 200 <= response.status_code < 300:
        return
    answer = response.text[:ANSWER_CHARS]
    if response.status_code in _TRANSIENT or response.status_code >= 500:
        after = retry_after_s(response.headers.get("retry-after"))
        raise RetryLater(f"answered {response.status_code}", after)
    raise Refused(response.status_code, answer)


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110); None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
