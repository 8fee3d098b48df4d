"""The Kafka event producer's bookkeeping when the broker cannot take messages."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from schemas.events import CallLogged, CallOutcome
from sinks.exceptions import KafkaDeliveryError
from sinks.kafka_events import KafkaEventProducer
from sinks.wire import WireMessage, encode_event


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(n: int) -> CallLogged:
    return CallLogged(
        event_id=f"evt-{n}",
        occurred_at=datetime(2026, 1, 5, 9, n, tzinfo=UTC),
        rep_id="rep-ana",
        call_id=f"call-{n}",
        duration_seconds=60,
        outcome=CallOutcome.CONNECTED,
    )


def test_full_queue_waits_and_failures_are_counted_then_raised() -> None:
    """A full local queue makes send() wait (BufferError is retried, not raised); messages
    the broker never acknowledges are counted as failed and raise_for_failures() says so."""
    producer = KafkaEventProducer(
        {"bootstrap.servers": f"127.0.0.1:{closed_port()}"},
        config={"queue.buffering.max.messages": 1, "message.timeout.ms": 200},
    )
    producer.send(call(1))
    producer.send(call(2))  # queue full until message 1 times out
    producer.send(WireMessage("crm.calls", b"rep-ana", b"{not json"))
    report = producer.flush(timeout_s=5)
    assert (report.sent, report.delivered, report.failed, report.undelivered) == (3, 0, 3, 0)
    assert report.errors and "crm.calls" in report.errors[0]
    with pytest.raises(KafkaDeliveryError, match="3 of 3 messages failed"):
        report.raise_for_failures()


def test_event_wire_form() -> None:
    """An event goes to its type's topic, keyed by rep_id, with its contract JSON as value."""
    message = encode_event(call(1))
    assert (message.topic, message.key) == ("crm.calls", b"rep-ana")
    assert message.value.startswith(b'{"event_id":"evt-1"')
