"""Produce CRM events to their Kafka topics with confluent-kafka, counting every delivery.

For synchronous callers only (the simulator and import CLIs): ``send`` may block
briefly when librdkafka's queue is full and ``flush`` blocks until the broker has
acknowledged everything. Never call them from an asyncio event loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import structlog
from confluent_kafka import KafkaError, Message, Producer

from schemas.events import Event
from sinks.exceptions import KafkaDeliveryError
from sinks.wire import WireMessage, as_wire

log = structlog.get_logger(__name__)

_MAX_LOGGED_ERRORS: Final = 5

PRODUCER_DEFAULTS: Final[dict[str, Any]] = {
    "linger.ms": 5,
    # Producer retries must not add duplicates of their own: the only duplicates on
    # the topics are the ones the simulator sends on purpose.
    "enable.idempotence": True,
    # Java-compatible key hashing, the same as aiokafka/faust and the Java clients, so
    # a rep lands on the same partition whoever produced the event (co-partitioning).
    # librdkafka's default (consistent_random, CRC32) would place keys differently.
    "partitioner": "murmur2_random",
    # No compression: aiokafka (the worker) needs extra packages to read lz4/zstd.
}


@dataclass
class DeliveryReport:
    """What the broker acknowledged, what it refused, what never got an answer."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    undelivered: int = 0
    delivered_per_topic: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.undelivered == 0

    def raise_for_failures(self) -> None:
        """Raise KafkaDeliveryError if any message was refused or left unacknowledged."""
        if not self.ok:
            first = f"; first error: {self.errors[0]}" if self.errors else ""
            raise KafkaDeliveryError(
                f"{self.failed} of {self.sent} messages failed and {self.undelivered}"
                f" were still unacknowledged at the end{first}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "undelivered": self.undelivered,
            "delivered_per_topic": dict(sorted(self.delivered_per_topic.items())),
            "errors": self.errors,
        }


class KafkaEventProducer:
    """A thin Producer wrapper: each event to its topic, keyed by rep_id, value its JSON.

    ``send`` also takes a ready ``WireMessage`` so malformed bytes can be produced
    for dead-letter tests. Use as a context manager, or call ``flush`` at the end.
    """

    def __init__(
        self,
        connection: Mapping[str, Any],
        *,
        client_id: str = "scorestream-producer",
        config: dict[str, Any] | None = None,
    ) -> None:
        """``connection``: the librdkafka properties that reach the broker (bootstrap, TLS,
        SASL; ``streams.runtime.connections.kafka_config``); ``config`` tunes this producer."""
        self.bootstrap = str(connection["bootstrap.servers"])
        self._producer = Producer(
            {**PRODUCER_DEFAULTS, **connection, "client.id": client_id, **(config or {})}
        )
        self.report = DeliveryReport()

    def __enter__(self) -> KafkaEventProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()

    def send(self, item: Event | WireMessage) -> None:
        """Queue one message; waits for queue space instead of failing when it is full."""
        message = as_wire(item)
        while True:
            try:
                self._producer.produce(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:
                # The local queue is full (broker slower than us): serve delivery
                # callbacks, which frees space, then try again.
                self._producer.poll(0.1)
        self.report.sent += 1
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Wait up to ``timeout_s`` for every acknowledgement; the report says what is left."""
        remaining = self._producer.flush(timeout_s)
        self.report.undelivered = remaining
        log.info(
            "kafka.flushed",
            bootstrap=self.bootstrap,
            sent=self.report.sent,
            delivered=self.report.delivered,
            failed=self.report.failed,
            undelivered=remaining,
        )
        return self.report

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.report.delivered += 1
            self.report.delivered_per_topic[str(msg.topic())] += 1
            return
        self.report.failed += 1
        if len(self.report.errors) < _MAX_LOGGED_ERRORS:
            text = f"{msg.topic()}: {err.str()}"
            self.report.errors.append(text)
            log.warning("kafka.delivery_failed", topic=msg.topic(), error=err.str())
