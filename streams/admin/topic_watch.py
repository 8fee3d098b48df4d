"""A traffic counter for ``scorestream topics watch``: messages per topic and rate, live.

It assigns partitions directly at their end offsets with confluent-kafka's Consumer: no
consumer group joins, nothing is committed. Blocking calls only, for the CLI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import structlog
from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from schemas import topics
from schemas.settings import Settings
from streams.runtime import connections
from streams.runtime.exceptions import KafkaUnavailableError, TopicsError

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class TopicRate:
    """Messages seen on one topic: since the watch started and in the last interval."""

    topic: str
    partitions: int
    total: int
    interval_count: int
    per_second: float
    avg_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partitions": self.partitions,
            "total": self.total,
            "interval": self.interval_count,
            "per_second": round(self.per_second, 2),
            "avg_per_second": round(self.avg_per_second, 2),
        }


@dataclass(frozen=True, slots=True)
class WatchSnapshot:
    """One refresh of the traffic counter."""

    at: datetime
    elapsed_s: float
    interval_s: float
    topics: tuple[TopicRate, ...]

    @property
    def total(self) -> int:
        return sum(t.total for t in self.topics)

    @property
    def per_second(self) -> float:
        return sum(t.per_second for t in self.topics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "elapsed_s": round(self.elapsed_s, 3),
            "total": self.total,
            "per_second": round(self.per_second, 2),
            "topics": [t.to_dict() for t in self.topics],
        }


class TopicWatcher:
    """Counts messages arriving on every topic whose name starts with ``prefix``.

    Partitions are assigned directly from their end offsets: no consumer group
    joins, nothing is committed, so watching never disturbs the worker's group or
    its lag. New matching topics or partitions are picked up every ``rescan_s``.
    """

    def __init__(
        self, settings: Settings, prefix: str = topics.named("crm."), *, rescan_s: float = 10.0
    ) -> None:
        self._settings = settings
        self._prefix = prefix
        self._rescan_s = rescan_s
        self._consumer: Consumer | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._partitions: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._started = 0.0
        self._last_scan = 0.0

    def __enter__(self) -> TopicWatcher:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted(self._partitions))

    def open(self) -> None:
        """Connect and assign every matching partition at its end offset."""
        self._consumer = connections.kafka_consumer(
            self._settings,
            {
                # Required by the client even for assign(); never joined, never committed.
                "group.id": topics.throwaway_group("watch"),
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "latest",
            },
        )
        self._started = time.monotonic()
        self._rescan()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _rescan(self) -> None:
        """Assign matching topic partitions not assigned yet (new topics, added partitions)."""
        consumer = self._require_consumer()
        try:
            metadata = consumer.list_topics(timeout=10)
        except KafkaException as exc:
            raise KafkaUnavailableError(
                f"Kafka at {self._settings.kafka_bootstrap} did not answer a metadata request"
                f" ({exc}); "
                "start it with `make up`"
            ) from None
        new: list[TopicPartition] = []
        for name, topic in metadata.topics.items():
            if not name.startswith(self._prefix) or topic.error is not None:
                continue
            self._partitions[name] = len(topic.partitions)
            self._totals.setdefault(name, 0)
            for partition in topic.partitions:
                if (name, partition) not in self._assigned:
                    new.append(TopicPartition(name, partition, OFFSET_END))
                    self._assigned.add((name, partition))
        if new:
            consumer.incremental_assign(new)
            log.debug("watching partitions", added=len(new), topics=len(self._partitions))
        self._last_scan = time.monotonic()

    def poll_for(self, seconds: float) -> WatchSnapshot:
        """Consume for ``seconds`` and return the counts; blocks the calling thread."""
        consumer = self._require_consumer()
        if time.monotonic() - self._last_scan >= self._rescan_s:
            self._rescan()
        counts: dict[str, int] = dict.fromkeys(self._partitions, 0)
        begin = time.monotonic()
        deadline = begin + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            for message in consumer.consume(num_messages=1000, timeout=min(remaining, 0.25)):
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("watch consumer error", error=str(error))
                    continue
                topic = message.topic()
                if topic is not None:
                    counts[topic] = counts.get(topic, 0) + 1
        now = time.monotonic()
        interval = max(now - begin, 1e-9)
        elapsed = max(now - self._started, 1e-9)
        rates: list[TopicRate] = []
        for name in sorted(self._partitions):
            self._totals[name] = self._totals.get(name, 0) + counts.get(name, 0)
            rates.append(
                TopicRate(
                    topic=name,
                    partitions=self._partitions[name],
                    total=self._totals[name],
                    interval_count=counts.get(name, 0),
                    per_second=counts.get(name, 0) / interval,
                    avg_per_second=self._totals[name] / elapsed,
                )
            )
        return WatchSnapshot(datetime.now(UTC), elapsed, interval, tuple(rates))

    def _require_consumer(self) -> Consumer:
        if self._consumer is None:
            raise TopicsError("TopicWatcher is not open; use it as a context manager")
        return self._consumer
