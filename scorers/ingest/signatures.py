"""Is a request from whom it says? Pure checks over the request's bytes and a clock.

Every comparison is constant-time (``hmac.compare_digest``), and every key is compared even
after a match, so timing tells nothing about which key, or how much of one, was right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum
from typing import Final

HUBSPOT_MAX_AGE_MS: Final = 5 * 60 * 1000
"""HubSpot: "Reject the request if the timestamp is older than 5 minutes"."""
_HUBSPOT_DECODED: Final = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
"""The escapes HubSpot decodes in the URI it signs (its request-validation guide)."""


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"
    """No credential in the request."""
    WRONG = "wrong"
    """A credential, but not a valid one."""
    STALE = "stale"
    """A signature over a timestamp too far from now (a replay, or a clock far off)."""


def matches_any(given: str, secrets: Sequence[str]) -> bool:
    """Whether ``given`` is one of ``secrets``, in time that does not depend on which."""
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given.encode(), secret.encode())
    return found


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature: base64 of HMAC-SHA256(client secret, method + URI + body +
    timestamp), with the URI's escapes above decoded."""
    for escaped, char in _HUBSPOT_DECODED.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def check_hubspot_v3(
    secrets: Sequence[str],
    *,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_ms: int,
) -> Verdict:
    """``X-HubSpot-Signature-v3`` against each secret (two while one rotates)."""
    if not signature or not timestamp:
        return Verdict.MISSING
    if not timestamp.isdigit() or len(timestamp) > 16:
        return Verdict.WRONG
    if abs(now_ms - int(timestamp)) > HUBSPOT_MAX_AGE_MS:
        return Verdict.STALE
    expected = [hubspot_v3_signature(s, method, uri, body, timestamp) for s in secrets]
    return Verdict.OK if matches_any(signature, expected) else Verdict.WRONG
