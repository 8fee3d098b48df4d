"""HubSpot's request signature v3 and shared secrets, against vectors computed by hand.

The expected signatures were computed outside Python from HubSpot's description
("requestMethod + requestUri + requestBody + timestamp", HMAC-SHA256 with the app's client
secret, base64), e.g.
``printf '%s' 'POSThttps://ingest.example.com/v1/hooks/hubspot?portal=62515[...]1764590400000'
| openssl dgst -sha256 -hmac 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy' -binary | base64``.
"""

from __future__ import annotations

from scorers.ingest.signatures import (
    HUBSPOT_MAX_AGE_MS,
    Verdict,
    check_hubspot_v3,
    hubspot_v3_signature,
    matches_any,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
BODY = b'[{"objectId":1246965,"propertyName":"dealstage","propertyValue":"closedwon"}]'
URI = "https://ingest.example.com/v1/hooks/hubspot?portal=62515"
TS = "1764590400000"
BY_HAND = "aUO/3IABE+VcNM2vdLusH7R6KsBkzifHYeumzTTE/Yo="


def check(signature: str | None, *, now_ms: int = int(TS), uri: str = URI, body: bytes = BODY,
          timestamp: str | None = TS, secrets: tuple[str, ...] = (SECRET,)) -> Verdict:  # fmt: skip
    return check_hubspot_v3(secrets, method="POST", uri=uri, body=body, timestamp=timestamp,
                            signature=signature, now_ms=now_ms)  # fmt: skip


def test_v3_signature_matches_the_hand_computed_vector() -> None:
    assert hubspot_v3_signature(SECRET, "POST", URI, BODY, TS) == BY_HAND
    assert check(BY_HAND) is Verdict.OK


def test_the_uri_escapes_hubspot_decodes() -> None:
    """HubSpot signs ':' '@' and the like decoded: %3A and %40 in the URI we see must match."""
    escaped = "https://ingest.example.com/v1/hooks/hubspot?from=a%3Ab%40c"
    by_hand = "P+CGNXsQUFex4dZT7TzL/kLsWUE2UUDin4X8zRq4A9M="
    assert hubspot_v3_signature(SECRET, "POST", escaped, b"{}", TS) == by_hand


def test_a_changed_byte_method_uri_or_secret_is_wrong() -> None:
    assert check(BY_HAND, body=BODY.replace(b"closedwon", b"closedlost")) is Verdict.WRONG
    assert check(BY_HAND, uri=URI + "&x=1") is Verdict.WRONG
    assert check(BY_HAND, secrets=("another-secret",)) is Verdict.WRONG
    assert check("not base64 at all") is Verdict.WRONG
    assert check(BY_HAND, timestamp="1764590400001") is Verdict.WRONG  # another moment signed


def test_stale_and_future_timestamps_are_refused() -> None:
    assert check(BY_HAND, now_ms=int(TS) + HUBSPOT_MAX_AGE_MS) is Verdict.OK
    assert check(BY_HAND, now_ms=int(TS) + HUBSPOT_MAX_AGE_MS + 1) is Verdict.STALE
    assert check(BY_HAND, now_ms=int(TS) - HUBSPOT_MAX_AGE_MS - 1) is Verdict.STALE


def test_missing_headers_and_rotation() -> None:
    assert check(None) is Verdict.MISSING
    assert check(BY_HAND, timestamp=None) is Verdict.MISSING
    assert check(BY_HAND, secrets=("old-secret", SECRET)) is Verdict.OK


def test_shared_secrets() -> None:
    assert matches_any("k2-0123456789abcdef", ["k1-0123456789abcdef", "k2-0123456789abcdef"])
    assert not matches_any("k3-0123456789abcdef", ["k1-0123456789abcdef"])
    assert not matches_any("", ["k1-0123456789abcdef"])
    assert not matches_any("k1", [])
