"""Working with ``crm.dlq``: counting dead letters by reason, and sending fixed ones back once.

``redrive`` re-produces a dead letter's original bytes and key to its original topic
once the operator has fixed the cause (added an FX rate, say). It keeps its own
record of what it sent in the compacted topic ``crm.dlq.redriven``, keyed by the dead
letter's place in ``crm.dlq``: running it twice sends nothing twice. It sends a
batch of originals and waits for the broker's acks before it records them, so a
crash in between sends them again at worst, and the worker counts a redelivered
event once.

Blocking confluent-kafka calls only: for the CLI, never for an event loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
from confluent_kafka import KafkaException, Producer, TopicPartition
from pydantic import ValidationError

from schemas import topics
from schemas.dead_letter import DeadLetter, Reason
from schemas.settings import Settings
from streams.runtime.connections import kafka_config, kafka_consumer
from streams.runtime.exceptions import KafkaUnavailableError, TopicsError

METADATA_TIMEOUT_S: Final = 10.0
CHUNK: Final = 500
"""Originals sent (and acknowledged) before their redrive is recorded."""

Place = tuple[int, int]
"""A dead letter's partition and offset in crm.dlq."""


def read_dlq(
    settings: Settings, topic: str = topics.DLQ
) -> Iterator[tuple[Place, DeadLetter | None]]:
    """Every dead letter in ``topic`` now, oldest first per partition (None: unreadable)."""
    for place, value in _read_whole(settings, topic):
        try:
            yield place, DeadLetter.model_validate_json(value or b"")
        except ValidationError:
            yield place, None


@dataclass
class DlqStats:
    """Each refused message counted once: a worker killed before its batch was committed
    dead-letters the message again when it is redelivered (``repeated``)."""

    by_reason: Counter[str] = field(default_factory=Counter)
    by_reason_and_topic: Counter[tuple[str, str]] = field(default_factory=Counter)
    unreadable: int = 0
    repeated: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_reason.values()) + self.unreadable

    def to_dict(self) -> dict[str, Any]:
        topics_of: dict[str, dict[str, int]] = {}
        for (reason, topic), n in sorted(self.by_reason_and_topic.items()):
            topics_of.setdefault(reason, {})[topic] = n
        return {
            "total": self.total,
            "by_reason": dict(sorted(self.by_reason.items())),
            "by_reason_and_topic": topics_of,
            "unreadable": self.unreadable,
            "repeated": self.repeated,
        }


def dlq_stats(settings: Settings) -> DlqStats:
    stats = DlqStats()
    seen: set[tuple[str, int, int]] = set()
    for _, letter in read_dlq(settings):
        if letter is None:
            stats.unreadable += 1
            continue
        source = (letter.topic, letter.partition, letter.offset)
        if source in seen:
            stats.repeated += 1
            continue
        seen.add(source)
        stats.by_reason[letter.reason.value] += 1
        stats.by_reason_and_topic[(letter.reason.value, letter.topic)] += 1
    return stats


@dataclass
class RedriveReport:
    sent: Counter[str] = field(default_factory=Counter)
    """Per original topic."""
    already_sent: int = 0
    older: int = 0
    """Matching the reason but failed before ``since``: left for another run."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": sum(self.sent.values()),
            "sent_per_topic": dict(sorted(self.sent.items())),
            "already_sent": self.already_sent,
            "older_than_since": self.older,
        }


def redrive(
    settings: Settings,
    reason: Reason,
    since: datetime | None = None,
    on_progress: Callable[[RedriveReport], None] | None = None,
) -> RedriveReport:
    """Send each dead letter of ``reason`` (failed at or after ``since``) back, once."""
    done = {key for (_, _), key in _redriven_keys(settings)}
    report = RedriveReport()
    producer = Producer(
        {**kafka_config(settings), "enable.idempotence": True, "linger.ms": 5,
         "partitioner": "murmur2_random"}  # the worker's partitioner: the rep's partition
    )  # fmt: skip
    chunk: list[tuple[bytes, DeadLetter]] = []
    for (partition, offset), letter in read_dlq(settings):
        if letter is None or letter.reason is not reason:
            continue
        key = f"{topics.DLQ}|{partition}|{offset}".encode()
        if key in done:
            report.already_sent += 1
        elif since is not None and letter.failed_at < since:
            report.older += 1
        else:
            chunk.append((key, letter))
            if len(chunk) >= CHUNK:
                _send(producer, chunk, report)
                chunk = []
                if on_progress is not None:
                    on_progress(report)
    _send(producer, chunk, report)
    return report


def _send(producer: Producer, chunk: list[tuple[bytes, DeadLetter]], report: RedriveReport) -> None:
    """Originals first, acknowledged; only then the record that they were sent."""
    if not chunk:
        return
    for _, letter in chunk:
        producer.produce(
            letter.topic, value=letter.original_bytes(), key=letter.original_key_bytes()
        )
        producer.poll(0)
    _flush(producer)
    for key, letter in chunk:
        record = {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset}
        producer.produce(topics.DLQ_REDRIVEN, value=orjson.dumps(record), key=key)
        report.sent[letter.topic] += 1
    _flush(producer)


def _flush(producer: Producer) -> None:
    if producer.flush(60) != 0:
        raise TopicsError("Kafka did not acknowledge the redriven messages within 60 s; run again")


def _redriven_keys(settings: Settings) -> Iterator[tuple[Place, bytes]]:
    for place, key in _read_whole(settings, topics.DLQ_REDRIVEN, keys=True):
        if key is not None:
            yield place, key


def _read_whole(
    settings: Settings, topic: str, *, keys: bool = False
) -> Iterator[tuple[Place, bytes | None]]:
    """Each message's value (or key) of every partition, up to its end when the read began."""
    # Unanswered or refused (a wrong secret) raises here, naming the setting to check.
    consumer = kafka_consumer(
        settings,
        {"group.id": topics.throwaway_group("dlq"),
         "enable.auto.commit": False, "enable.auto.offset.store": False},
    )  # fmt: skip
    try:
        try:
            found = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S).topics.get(topic)
        except KafkaException as exc:
            raise KafkaUnavailableError(
                f"Kafka at {settings.kafka_bootstrap} did not answer ({exc}); start it with"
                " `make up`"
            ) from None
        if found is None or found.error is not None:
            raise TopicsError(
                f"topic {topic} is missing; create it with `scorestream topics create`"
            )
        ends: dict[int, int] = {}
        assignment = []
        for partition in sorted(found.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_S
            )
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        if not assignment:
            return
        consumer.assign(assignment)
        while ends:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                # A compacted topic's end may hold no record: ask where the read stands.
                for tp in consumer.position([TopicPartition(topic, p) for p in list(ends)]):
                    if tp.offset >= ends[tp.partition]:
                        del ends[tp.partition]
                continue
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None or partition not in ends:
                continue
            yield (partition, offset), message.key() if keys else message.value()
            if offset + 1 >= ends[partition]:
                del ends[partition]
    finally:
        consumer.close()
