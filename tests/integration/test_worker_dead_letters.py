"""Bad input never stops the worker: each kind lands in crm.dlq with its reason.

The valid events around the bad ones are all counted.
"""

from __future__ import annotations

import base64
import urllib.request
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from schemas import topics
from schemas.settings import Settings
from tests.integration.worker_harness import System, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def call(event_id: str, day: str, rep: str = "rep-ana") -> dict[str, object]:
    return {
        "event_id": event_id, "event_type": "call_logged", "rep_id": rep, "call_id": event_id,
        "occurred_at": f"{day}T10:00:00+00:00", "duration_seconds": 30, "outcome": "connected",
    }  # fmt: skip


def test_each_kind_of_bad_message_is_dead_lettered_with_its_reason(
    settings: Settings, tmp_path: Path
) -> None:
    """Unparsable, invalid, wrong key, unknown currency and too late: five dead letters, and
    the valid calls around them are all counted."""
    system = System.fresh(settings, tmp_path)
    jpy_deal = {"event_id": "jpy", "event_type": "deal_won", "occurred_at": "2026-05-30T10:00:00Z",
                "rep_id": "rep-ana", "deal_id": "d1", "amount": 5, "currency": "JPY",
                "opened_at": "2026-05-01T10:00:00Z"}  # fmt: skip
    messages: list[tuple[str, bytes | None, bytes]] = [
        (topics.CALLS, b"rep-ana", orjson.dumps(call("c1", "2026-05-30"))),
        (topics.CALLS, b"rep-ana", b"<html>502 Bad Gateway</html>"),
        (topics.CALLS, b"rep-ana", orjson.dumps({**call("c2", "2026-05-30"), "outcome": "x"})),
        (topics.CALLS, b"rep-bob", orjson.dumps(call("c3", "2026-05-30"))),
        (topics.DEALS, b"rep-ana", orjson.dumps(jpy_deal)),
        (topics.CALLS, b"rep-ana", orjson.dumps(call("c4", "2025-01-02"))),
        (topics.CALLS, b"rep-ana", orjson.dumps(call("c5", "2026-05-31"))),
        (topics.CALLS, b"rep-ana", orjson.dumps(call("c5", "2026-05-31"))),  # redelivered
    ]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for topic, key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    def counted() -> bool:
        card = system.cards().get(("rep-ana", None, "7d"))
        assert card is not None and card["as_of"] == "2026-05-31", card and card["as_of"]
        assert card["kpis"]["calls_logged"]["value"] == 2.0  # c1 and c5, once
        return True

    with system.worker():
        wait_until(counted, 120, "rep-ana's two valid calls", system.worker_logs)
        base = f"http://127.0.0.1:{system.web_port}"
        health = orjson.loads(urllib.request.urlopen(f"{base}/health", timeout=5).read())
        assert health == {"status": "ready", "clock": "event"}
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        for reason in (
            "invalid_json",
            "invalid_event",
            "wrong_key",
            "unknown_currency",
            "too_late",
        ):
            assert f'scorestream_dead_letters_total{{reason="{reason}"}}' in metrics, reason
        assert "scorestream_duplicates_total 1.0" in metrics
        assert "scorestream_consumer_lag{partition=" in metrics
        assert "scorestream_event_to_redis_seconds_bucket" in metrics
    letters = {letter["reason"]: letter for letter in system.dead_letters()}
    assert sorted(letters) == [
        "invalid_event", "invalid_json", "too_late", "unknown_currency", "wrong_key"
    ]  # fmt: skip
    assert letters["invalid_json"]["detail"].startswith("not valid JSON")
    assert letters["invalid_event"]["detail"].startswith("outcome:")
    assert "is not the event's rep_id 'rep-ana'" in letters["wrong_key"]["detail"]
    assert "no FX rate for 'JPY'" in letters["unknown_currency"]["detail"]
    assert letters["too_late"]["detail"].startswith("occurred on 2025-01-02")
    html = letters["invalid_json"]
    assert base64.b64decode(html["original"]) == b"<html>502 Bad Gateway</html>"
    assert base64.b64decode(html["original_key"]) == b"rep-ana"
    assert (html["topic"], html["key"]) == (topics.CALLS, "rep-ana")
    assert isinstance(html["partition"], int) and isinstance(html["offset"], int)
