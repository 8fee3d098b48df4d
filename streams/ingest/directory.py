"""The rep directory, read from the compacted ``crm.reps`` into an ``OwnerDirectory``.

A thread of its own consumes every partition from the start without a consumer group
(nothing to commit: it rebuilds the directory at each start) and hands each entry to the
event loop, which alone touches the directory. The hooks answer 503 until the directory
has read up to where the topic ended at start: an owner not yet read is not unknown.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Final

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from schemas import topics
from schemas.events import RepUpserted, parse_event
from schemas.exceptions import EventError
from schemas.settings import Settings
from scorers.ingest.directory import OwnerDirectory
from streams.runtime import connections
from streams.runtime.exceptions import AccessError, KafkaUnavailableError

log = structlog.get_logger(__name__)

RETRY_S: Final = 2.0


class DirectoryReader:
    """Keeps ``directory`` equal to ``crm.reps``; ``ready`` once it caught up at start."""

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self.directory = OwnerDirectory()
        self.ready = False
        self.problem = "the rep directory (crm.reps) is still loading"
        self._settings = settings
        self._loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-directory", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = connections.kafka_consumer(self._settings, {
                    "group.id": topics.throwaway_group("ingest-directory"),
                    "enable.auto.commit": False, "enable.partition.eof": False,
                })  # fmt: skip
            except (AccessError, KafkaUnavailableError) as exc:
                self.problem = f"the rep directory cannot be read: {exc}"
                log.warning("ingest.directory_unavailable", error=str(exc))
                self._stop.wait(RETRY_S)
                continue
            try:
                self._follow(consumer)
            except KafkaException as exc:
                log.warning("ingest.directory_failed", error=str(exc))
                self._stop.wait(RETRY_S)
            finally:
                consumer.close()

    def _follow(self, consumer: Consumer) -> None:
        meta = consumer.list_topics(topics.REPS, timeout=10).topics.get(topics.REPS)
        if meta is None or meta.error is not None:
            self.problem = (
                f"topic {topics.REPS} is missing; create it with `scorestream topics create`"
            )
            self._stop.wait(RETRY_S)
            return
        ends = {}
        for partition in meta.partitions:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topics.REPS, partition), timeout=10
            )
            ends[partition] = high
        consumer.assign([TopicPartition(topics.REPS, p, OFFSET_BEGINNING) for p in ends])
        behind = {p for p, high in ends.items() if high > 0}
        self._caught_up(behind)
        while not self._stop.is_set():
            message = consumer.poll(0.5)
            if message is None and behind:  # past the end though no message said so
                positions = consumer.position([TopicPartition(topics.REPS, p) for p in behind])
                behind -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
                self._caught_up(behind)
            if message is None or message.error() is not None:
                continue
            self._take(message.key(), message.value())
            partition, offset = message.partition(), message.offset()
            if partition in behind and offset is not None and offset + 1 >= ends[partition]:
                behind.discard(partition)
                self._caught_up(behind)

    def _caught_up(self, behind: set[int]) -> None:
        if not behind and not self.ready:
            self._loop.call_soon_threadsafe(self._mark_ready)

    def _mark_ready(self) -> None:
        self.ready = True
        log.info("ingest.directory_ready", reps=len(self.directory))

    def _take(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # a tombstone: the rep left the directory
            if key is not None:
                self._loop.call_soon_threadsafe(
                    self.directory.remove, key.decode("utf-8", "replace")
                )
            return
        try:
            event = parse_event(value)
        except EventError:
            return  # the worker dead-letters it; the directory has nothing to learn from it
        if isinstance(event, RepUpserted):
            self._loop.call_soon_threadsafe(self.directory.upsert, event)
