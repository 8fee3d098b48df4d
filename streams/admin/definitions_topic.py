"""Reading and publishing scorecard versions on ``scorecards.definitions``.

Blocking confluent-kafka clients: for the CLI and the worker's start-up, never the faust
loop (the running worker follows the topic with ``streams.worker.definitions``).

Publishing reads every version, checks the new one against the version in force
(``scorers.versions``) and writes the next number. Two publishers at once must not both
write version N+1 (compaction keeps one record per key: a version would be lost), so every
publish is a Kafka transaction under one transactional id: a publisher that starts fences
the one before it, whose commit then fails (what it read may be stale), and that one starts
over from the read. Readers read committed records only.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import structlog
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, Producer, TopicPartition

from schemas import topics
from schemas.definition_version import DefinitionVersion, VersionError, parse_version
from schemas.scorecard_definition import ScorecardDefinition
from schemas.settings import Settings
from scorers.versions import Versions
from streams.runtime import connections
from streams.runtime.exceptions import KafkaUnavailableError, TopicsError, VersionRefused

log = structlog.get_logger(__name__)

PUBLISHER_ID: Final = topics.named("scorestream-definitions")
"""The transactional id every publisher uses: one publish at a time (see the docstring)."""
READER_GROUP: Final = topics.named("scorestream-definitions-reader")
"""librdkafka wants a group id; the reader only assigns and never commits."""
PARTITION: Final = 0
"""The topic has one partition: versions are read in the order they were published."""
TIMEOUT_S: Final = 30.0
ATTEMPTS: Final = 10
"""Publishes started over after being fenced by another publisher, before giving up."""
BACKOFF_S: Final = 0.25
"""A fenced publisher waits a random time up to this, doubled each attempt (up to 4 s),
before it starts over: publishers that retried at once would fence each other forever."""


@dataclass(frozen=True, slots=True)
class Read:
    versions: Versions
    end: int
    """The offset after the last record: where a follower of the topic goes on from."""


@dataclass(frozen=True, slots=True)
class Published:
    version: DefinitionVersion | None
    """The version written; None when nothing was (``only_if_empty`` on a topic with
    versions, or the same content as the version in force)."""
    before: Read
    """The topic as read just before writing."""


def read_versions(settings: Settings, *, timeout_s: float = TIMEOUT_S) -> Read:
    """Every version on the topic, taken in order (``scorers.versions``)."""
    consumer = connections.kafka_consumer(
        settings,
        {
            "group.id": READER_GROUP,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        },
    )
    try:
        listed = consumer.list_topics(topics.DEFINITIONS, timeout=timeout_s).topics
        meta = listed.get(topics.DEFINITIONS)
        if meta is None or meta.error is not None or not meta.partitions:
            raise TopicsError(
                f'topic "{topics.DEFINITIONS}" is missing; create it with'
                " `scorestream topics create`"
            )
        consumer.assign([TopicPartition(topics.DEFINITIONS, PARTITION, OFFSET_BEGINNING)])
        versions = Versions()
        deadline = time.monotonic() + timeout_s
        while True:
            msg = consumer.poll(1.0)
            if msg is None:
                if time.monotonic() > deadline:
                    raise KafkaUnavailableError(
                        f"reading {topics.DEFINITIONS} from {settings.kafka_bootstrap} did not"
                        f" reach its end within {timeout_s:g}s"
                    )
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return Read(versions, msg.offset() or 0)
                raise TopicsError(f"reading {topics.DEFINITIONS}: {error.str()}")
            try:
                versions.take(parse_version(msg.key(), msg.value()))
            except VersionError as exc:
                versions.unreadable.append(f"offset {msg.offset()}: {exc}")
    finally:
        consumer.close()


def publish(
    settings: Settings,
    definition: ScorecardDefinition,
    *,
    note: str,
    published_by: str,
    only_if_empty: bool = False,
) -> Published:
    """Write ``definition`` as the next version; ``VersionRefused`` when the workers could
    not score it exactly. ``only_if_empty``: only as version 1 (a worker's seed)."""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, min(4.0, BACKOFF_S * 2**attempt)))
        producer = Producer(
            {**connections.kafka_config(settings), "transactional.id": PUBLISHER_ID}
        )
        try:
            producer.init_transactions(TIMEOUT_S)  # fences any publisher before us
            before = read_versions(settings)
            version = _next(before.versions, definition, note, published_by, only_if_empty)
            if version is None:
                return Published(None, before)
            producer.begin_transaction()
            producer.produce(topics.DEFINITIONS, version.to_bytes(), version.key, PARTITION)
            producer.commit_transaction(TIMEOUT_S)
            return Published(version, before)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() != KafkaError._FENCED:
                raise TopicsError(f"publishing to {topics.DEFINITIONS}: {error or exc}") from None
            log.info("definition_publish_fenced", fix="another publish ran at once; reading again")
    raise TopicsError(
        f"publishing to {topics.DEFINITIONS}: other publishers kept running at the same time"
        f" ({ATTEMPTS} attempts); try again"
    )


def _next(
    versions: Versions,
    definition: ScorecardDefinition,
    note: str,
    published_by: str,
    only_if_empty: bool,
) -> DefinitionVersion | None:
    """The version to write after ``versions``, None for nothing to write."""
    if only_if_empty and versions.published:
        return None
    version = DefinitionVersion.of(
        versions.latest + 1,
        definition,
        note=note,
        published_by=published_by,
        published_at=datetime.now(UTC),
    )
    in_force = versions.in_force
    if in_force is None:
        return version
    if in_force.digest == version.digest:
        return None
    reason = versions.check(version)
    if reason is not None:
        raise VersionRefused(reason)
    return version
