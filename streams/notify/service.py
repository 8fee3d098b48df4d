"""The delivery service: one consumer group on ``scorecards.alerts``; an offset is committed
only once every delivery of the messages before it is recorded (sent, or parked for later).

The confluent-kafka consumer blocks, so every call to it runs in one thread of its own,
never on the event loop. Each channel has a queue and a lane (one send at a time) of its
own, so channels deliver at their own pace: a hung receiver holds back only its own
alerts, and the commit point (``offsets``) waits for them. A partition taken away in a
rebalance is settled first (its deliveries recorded and committed) so the next owner does
not send them again; a redelivered alert finds its record and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from schemas import topics
from schemas.outputs import CoachingAlert
from schemas.routes import RoutingFile
from schemas.settings import Settings
from scorers.routing import Delivery, deliveries_owed
from streams.notify.lanes import ChannelLane
from streams.notify.metrics import NotifyMetrics
from streams.notify.offsets import OffsetTracker, TopicPartitionKey
from streams.runtime import connections

log = structlog.get_logger(__name__)

T = TypeVar("T")

GROUP_ID: Final = topics.named("scorestream-notify")
BATCH_MESSAGES: Final = 100
POLL_S: Final = 0.5
MAX_IN_FLIGHT: Final = 200
"""Messages consumed and not yet fully delivered before consuming pauses: a channel that
is slow (not yet parked) cannot make the service hold the whole topic in memory, and a
rebalance waits for at most this many to settle."""
SESSION_TIMEOUT_MS: Final = 10_000
"""How soon the group gives a killed instance's partitions to another (librdkafka's 45 s
default would hold alerts back that long after a kill -9)."""
MAX_POLL_INTERVAL_MS: Final = 900_000
"""Consuming pauses while MAX_IN_FLIGHT messages wait for a slow channel; the group must
not take the partitions away meanwhile."""
STOP_WAIT_S: Final = 60.0
"""On SIGTERM, how long deliveries in flight may take to finish before the rest is left
to the next run (uncommitted, so redelivered and skipped by their records)."""

Start = Literal["earliest", "latest"]
_Item = tuple[CoachingAlert, Delivery, TopicPartitionKey, int]


class NotifyService:
    def __init__(
        self,
        settings: Settings,
        routes: RoutingFile,
        lanes: Mapping[str, ChannelLane],
        metrics: NotifyMetrics,
        *,
        group_id: str = GROUP_ID,
        start: Start = "earliest",
        topic: str = topics.ALERTS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.routes, self.lanes, self.metrics = settings, routes, lanes, metrics
        self.group_id, self.start, self.topic, self.clock = group_id, start, topic, clock
        self.tracker = OffsetTracker()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="notify-consumer")
        self._queues: dict[str, asyncio.Queue[_Item]] = {}
        self._progress = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.revoke_wait_s = (
            max((c.timeout_s + c.retry_for_s for c in routes.channels.values()), default=0) + 30
        )
        self.last_poll_s: float | None = None
        """Monotonic time the loop last consumed (or waited for a slow channel)."""
        self._last_error: int | None = None
        self._closing = False
        """Set once the lanes stopped: a revoke while closing commits what is done, no wait."""

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume, deliver, commit, until ``stop`` is set (deliveries in flight finish)."""
        self._loop = asyncio.get_running_loop()
        config = {
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": self.start,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
            "client.id": "scorestream-notify",
            # A topic created after we subscribed is found within seconds, not librdkafka's
            # default five minutes (notify may start before `topics create`).
            "topic.metadata.refresh.interval.ms": 5000,
        }
        consumer = await self._blocking(connections.kafka_consumer, self.settings, config)
        await self._blocking(lambda: consumer.subscribe(
            [self.topic], on_revoke=self._on_revoke, on_lost=self._on_lost))  # fmt: skip
        workers = []
        for name, lane in self.lanes.items():
            self._queues[name] = asyncio.Queue()
            workers.append(asyncio.create_task(self._work(lane, self._queues[name])))
        log.info("notify consuming", topic=self.topic, group=self.group_id,
                 channels=sorted(self.lanes))  # fmt: skip
        try:
            while not stop.is_set():
                for worker in workers:
                    if worker.done():  # Redis refused something waiting cannot fix
                        worker.result()
                if self.tracker.in_flight() >= MAX_IN_FLIGHT:
                    await self._wait_progress(POLL_S)
                else:
                    messages = await self._blocking(consumer.consume, BATCH_MESSAGES, POLL_S)
                    self._take(messages)
                self.last_poll_s = time.monotonic()
                await self._commit(consumer, self.tracker.commit_points())
            await self._finish(STOP_WAIT_S)
            await self._commit(consumer, self.tracker.commit_points())
        finally:
            self._closing = True
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._blocking(consumer.close)
            self._thread.shutdown(wait=False)

    def _take(self, messages: list[Message]) -> None:
        """Queue each message's deliveries on their channels' lanes, in offset order."""
        now = self.clock()
        for message in messages:
            alert = self._decode(message)
            topic, offset = message.topic(), message.offset()
            if topic is None or offset is None or offset < 0:
                continue
            tp = (topic, message.partition() or 0)
            owed = [] if alert is None else deliveries_owed(alert, self.routes, now)
            self.tracker.take(tp, offset, len(owed))
            for delivery in owed:
                assert alert is not None
                self._queues[delivery.channel].put_nowait((alert, delivery, tp, offset))

    async def _work(self, lane: ChannelLane, queue: asyncio.Queue[_Item]) -> None:
        while True:
            alert, delivery, tp, offset = await queue.get()
            if not self.tracker.holds(tp):
                continue  # its partition moved on (a revoke that could not wait): not ours
            outcome = await lane.deliver(alert, delivery.not_before, digest=delivery.digest)
            log.debug("delivery", channel=lane.name, alert_id=alert.alert_id, outcome=outcome)
            self.tracker.done(tp, offset)
            self._progress.set()

    async def _wait_progress(self, timeout_s: float) -> None:
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout_s)

    async def _finish(self, timeout_s: float, tps: list[TopicPartitionKey] | None = None) -> None:
        """Wait until the deliveries of ``tps`` (or all) are recorded, at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.tracker.in_flight(tps) and time.monotonic() < deadline:
            await self._wait_progress(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def _decode(self, message: Message) -> CoachingAlert | None:
        error = message.error()
        if error is not None:
            # Once per kind: a topic not created yet would otherwise log twice a second.
            if error.code() != KafkaError._PARTITION_EOF and error.code() != self._last_error:
                log.warning("consumer error (still trying)", error=error.str())
            self._last_error = error.code()
            return None
        self._last_error = None
        try:
            return CoachingAlert.model_validate_json(message.value() or b"")
        except ValidationError as exc:
            # Not ours to fix and nothing to deliver: counted, logged with its place, skipped.
            self.metrics.unreadable.inc()
            log.error("not a CoachingAlert; skipped", partition=message.partition(),
                      offset=message.offset(), error=str(exc)[:300])  # fmt: skip
            return None

    async def _commit(self, consumer: Consumer, points: dict[TopicPartitionKey, int]) -> None:
        if not points:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in points.items()]
        try:
            await self._blocking(lambda: consumer.commit(offsets=offsets, asynchronous=False))
        except KafkaException as exc:
            # Rebalanced away: the new owner reads from the last commit and finds our records.
            log.warning("commit failed; the next owner skips what we recorded", error=str(exc))
            return
        self.tracker.committed(points)

    async def _settle(self, tps: list[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        if not self._closing:
            await self._finish(self.revoke_wait_s, tps)
        points = {tp: o for tp, o in self.tracker.commit_points().items() if tp in tps}
        self.tracker.forget(tps)
        return points

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """In the consumer's thread, inside ``consume``: settle the partitions on the loop,
        then commit them here, before the group hands them to another instance."""
        assert self._loop is not None
        tps = [(p.topic, p.partition) for p in partitions]
        future = asyncio.run_coroutine_threadsafe(self._settle(tps), self._loop)
        points = future.result(timeout=self.revoke_wait_s + 5)
        if points:
            offsets = [TopicPartition(t, p, o) for (t, p), o in points.items()]
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed", error=str(exc))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another instance already holds them: nothing of ours can be committed there.
        assert self._loop is not None
        tps = [(p.topic, p.partition) for p in partitions]
        self._loop.call_soon_threadsafe(self.tracker.forget, tps)

    def healthy(self, within_s: float = 30.0) -> bool:
        return self.last_poll_s is not None and time.monotonic() - self.last_poll_s < within_s
