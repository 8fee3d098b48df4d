"""Standard Webhooks: the CoachingAlert JSON, signed, with its ``alert_id`` as ``webhook-id``.

The signature is the specification's own library (``standardwebhooks``): ``v1,`` and the
base64 HMAC-SHA256 of ``id.timestamp.body`` under the secret ``whsec_<base64>``. A receiver
verifies it with the same library (docs/notify.md, "Verifying a Standard Webhook") and
drops repeats by ``webhook-id``: a redelivered alert carries the same id every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import orjson
from standardwebhooks import Webhook

from schemas.outputs import CoachingAlert
from sinks.notify_http import post
from sinks.notify_text import digest_id


def signature(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of msg_id.timestamp.body>`` under ``whsec_<base64>``."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp_s, UTC), body)


def signed_request(alert: CoachingAlert, secret: str, now_s: float) -> tuple[bytes, dict[str, str]]:
    """The body and the three headers of the specification, signed at ``now_s``."""
    body = alert.model_dump_json().encode()
    timestamp = int(now_s)
    headers = {
        "webhook-id": alert.alert_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, alert.alert_id, timestamp, body),
    }
    return body, headers


def signed_digest_request(
    alerts: list[CoachingAlert], secret: str, now_s: float
) -> tuple[bytes, dict[str, str]]:
    """A daily digest: ``{"type": "digest", "alerts": [CoachingAlert, ...]}``, its
    ``webhook-id`` derived from the alerts' ids."""
    msg_id = digest_id(alerts)
    body = orjson.dumps({"type": "digest", "digest_id": msg_id,
                         "alerts": [a.model_dump(mode="json") for a in alerts]})  # fmt: skip
    timestamp = int(now_s)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
    return body, headers


class StandardWebhookSender:
    """Sends alerts to one Standard Webhooks receiver; each send is signed afresh (a retry
    gets a new timestamp, so a receiver's replay window never refuses it)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        secret: str,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client, self._url, self._secret = client, url, secret
        self._timeout_s, self._clock = timeout_s, clock

    async def send(self, alert: CoachingAlert) -> None:
        body, headers = signed_request(alert, self._secret, self._clock())
        await post(self._client, self._url, body, headers, self._timeout_s)

    async def send_digest(self, alerts: list[CoachingAlert]) -> None:
        body, headers = signed_digest_request(alerts, self._secret, self._clock())
        await post(self._client, self._url, body, headers, self._timeout_s)
