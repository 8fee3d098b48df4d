"""The delivery service: one consumer group on ``scorecards.alerts``, committed only after
every delivery a batch owes is recorded (sent, or parked to be sent later).

The confluent-kafka consumer blocks, so every call to it runs in one thread of its own,
never on the event loop; the loop sends (each channel in its lane, channels in parallel),
records in Redis and serves /healthz. A batch is handled to the end before the next poll,
so a rebalance (served inside ``consume``) never finds a send in flight; a redelivered
alert finds its record and is skipped.
"""

from __future__ import annotations

import asyncio
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
from streams import connections
from streams.notify.lanes import ChannelLane
from streams.notify.metrics import NotifyMetrics

log = structlog.get_logger(__name__)

T = TypeVar("T")

GROUP_ID: Final = "scorestream-notify"
BATCH_MESSAGES: Final = 50
"""Alerts handled per commit: small, so a slow receiver holds few alerts of other channels."""
POLL_S: Final = 1.0
SESSION_TIMEOUT_MS: Final = 10_000
"""How soon the group gives a killed instance's partitions to another (librdkafka's 45 s
default would hold alerts back that long after a kill -9)."""
MAX_POLL_INTERVAL_MS: Final = 900_000
"""A batch may wait out every channel's retry budget (up to an hour each in the file);
most take milliseconds."""

Start = Literal["earliest", "latest"]


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
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="notify-consumer")
        self._consumer: Consumer | None = None
        self.last_poll_s: float | None = None
        """Monotonic time of the last poll that returned: /healthz says whether it is recent."""

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume, deliver, commit, until ``stop`` is set (the batch in hand is finished)."""
        config = {
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": self.start,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
            "client.id": "scorestream-notify",
        }
        consumer = await self._blocking(connections.kafka_consumer, self.settings, config)
        self._consumer = consumer
        await self._blocking(consumer.subscribe, [self.topic])
        log.info("notify consuming", topic=self.topic, group=self.group_id,
                 channels=sorted(self.lanes))  # fmt: skip
        try:
            while not stop.is_set():
                messages = await self._blocking(consumer.consume, BATCH_MESSAGES, POLL_S)
                self.last_poll_s = time.monotonic()
                if messages:
                    await self.handle(messages)
                    await self._commit(consumer, messages)
        finally:
            self._consumer = None
            await self._blocking(consumer.close)
            self._thread.shutdown(wait=False)

    async def handle(self, messages: list[Message]) -> None:
        """Every delivery the messages owe, each channel's in order, channels in parallel."""
        owed: dict[str, list[tuple[CoachingAlert, Delivery]]] = {}
        now = self.clock()
        for message in messages:
            alert = self._decode(message)
            if alert is None:
                continue
            for delivery in deliveries_owed(alert, self.routes, now):
                owed.setdefault(delivery.channel, []).append((alert, delivery))
        await asyncio.gather(*(self._drain(self.lanes[name], items)
                               for name, items in owed.items()))  # fmt: skip

    async def _drain(self, lane: ChannelLane, items: list[tuple[CoachingAlert, Delivery]]) -> None:
        for alert, delivery in items:
            outcome = await lane.deliver(alert, delivery.not_before)
            log.debug("delivery", channel=lane.name, alert_id=alert.alert_id, outcome=outcome)

    def _decode(self, message: Message) -> CoachingAlert | None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", error=error.str())
            return None
        try:
            return CoachingAlert.model_validate_json(message.value() or b"")
        except ValidationError as exc:
            # Not ours to fix and nothing to deliver: counted, logged with its place, skipped.
            self.metrics.unreadable.inc()
            log.error("not a CoachingAlert; skipped", partition=message.partition(),
                      offset=message.offset(), error=str(exc)[:300])  # fmt: skip
            return None

    async def _commit(self, consumer: Consumer, messages: list[Message]) -> None:
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, offset = message.topic(), message.offset()
            if topic is not None and offset is not None and offset >= 0:
                key = (topic, message.partition() or 0)
                ends[key] = max(ends.get(key, -1), offset + 1)
        if not ends:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
        try:
            await self._blocking(lambda: consumer.commit(offsets=offsets, asynchronous=False))
        except KafkaException as exc:
            # Rebalanced away: the new owner reads from the last commit and finds our records.
            log.warning("commit failed; the next owner skips what we recorded", error=str(exc))

    def healthy(self, within_s: float = 30.0) -> bool:
        return self.last_poll_s is not None and time.monotonic() - self.last_poll_s < within_s
