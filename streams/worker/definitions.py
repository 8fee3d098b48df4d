"""The worker follows ``scorecards.definitions``: a new scorecard version is put in force
within seconds, without a restart.

Every worker of a group reads the whole topic itself (no consumer group: a group would
hand the one partition to one worker), committed records only, from where the start-up's
read ended (``streams.admin.definitions_topic``). It takes versions in the order published by
the rule of ``scorers.versions``, so every worker puts the same version in force. A
version taken goes to ``apply`` (the app runs it between two batches: a new layout, every
rep scored again from the state kept); a version refused, or a record this worker cannot
read, leaves the version in force as it is, and says so in the log and on /metrics. Nothing
here can stop the worker: a failure is logged and the topic read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import topics
from schemas.definition_version import DefinitionVersion, VersionError, parse_version
from schemas.settings import Settings
from scorers.definition_changes import changes
from sinks.redis_definitions import RedisDefinitionSink
from streams.admin.definitions_topic import PARTITION, Read
from streams.runtime import connections
from streams.worker.metrics import WorkerMetrics

log = structlog.get_logger()

POLL_MS: Final = 1000
"""How long a read of the topic waits for a record: a version is in force about this soon."""
RETRY_S: Final = 5.0
"""After a failure, how long before the topic is read again."""

Apply = Callable[[DefinitionVersion, int], Awaitable[None]]
"""Put a version in force, keeping this many days of history (``Versions.kept_days``)."""


class DefinitionFollower:
    """One per worker process: what it has read (and where it goes on) outlives the agent
    that runs it, which faust may restart."""

    def __init__(
        self, settings: Settings, start: Read, sink: RedisDefinitionSink, metrics: WorkerMetrics
    ) -> None:
        in_force = start.versions.in_force
        assert in_force is not None, "the worker starts with a version in force"
        self.settings = settings
        self.versions = start.versions
        self.offset = start.end
        """The next record to read."""
        self.sink = sink
        self.metrics = metrics
        metrics.definition_version.set(in_force.version)
        metrics.definition_latest.set(start.versions.latest)

    @property
    def in_force(self) -> DefinitionVersion:
        assert self.versions.in_force is not None
        return self.versions.in_force

    async def run(self, apply: Apply) -> None:
        """Follow the topic until cancelled, handing each version taken to ``apply``; first
        tell Redis what was read so far."""
        await self.sink.record(self.versions.published)
        await self.sink.in_force(self.in_force.version)
        await self.sink.keep_windows(self.in_force.definition.windows)
        while True:
            try:
                await self._follow(apply)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("definitions_follow_failed", retry_in_s=RETRY_S)
                await asyncio.sleep(RETRY_S)

    async def _follow(self, apply: Apply) -> None:
        consumer = AIOKafkaConsumer(
            **connections.aiokafka_kwargs(self.settings),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            partition = TopicPartition(topics.DEFINITIONS, PARTITION)
            consumer.assign([partition])
            consumer.seek(partition, self.offset)
            while True:
                batch = await consumer.getmany(partition, timeout_ms=POLL_MS)
                for record in batch.get(partition, []):
                    await self.read(record.key, record.value, apply)
                    self.offset = record.offset + 1
        finally:
            await consumer.stop()

    async def read(self, key: bytes | None, value: bytes | None, apply: Apply) -> None:
        """One record of the topic: a version to put in force, or to refuse."""
        try:
            version = parse_version(key, value)
        except VersionError as exc:
            self.versions.unreadable.append(str(exc))
            self.metrics.definitions_refused.inc()
            log.error("definition_unreadable", reason=str(exc), in_force=self.in_force.version)
            return
        await self.sink.record([version])
        before = self.in_force
        bound = log.bind(version=version.version, digest=version.digest[:12], note=version.note)
        reason = self.versions.check(version)
        if reason is None:
            moved = [c.text() for c in changes(before.definition, version.definition)]
            bound.info("definition_in_force", replaces=before.version, changes=moved)
            # Taken once applied: if applying fails, the record is read and applied again.
            # Named in force first, so a page the new cards refresh names their version too.
            await self.sink.in_force(version.version)
            # Shielded: a stop cancels the follower, never a rescore half written.
            # A version taken needs no more days than are kept: the days kept stay as they are.
            await asyncio.shield(apply(version, self.versions.kept_days))
            await self.sink.keep_windows(version.definition.windows)
            self.metrics.definition_version.set(version.version)
        else:
            self.metrics.definitions_refused.inc()
            bound.error("definition_refused", reason=reason, in_force=before.version)
        self.versions.take(version)
        self.metrics.definition_latest.set(self.versions.latest)
