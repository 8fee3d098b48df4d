"""Groups the worker's CRM messages into batches, so each rep is scored once per batch.

faust hands the agent one message at a time; the batcher holds them until the
batch is old enough or ``max_messages`` long, hands the batch to the shell, and
acks its messages once the shell has written it: at least once. A timer ends a
batch that no further message comes to end.

The timer is a task of the batcher's own (``start_timer``), not an app timer: at
shutdown faust stops its timers first and then waits for every message in flight
to be acked, so a batch left open to an app timer held the shutdown until the
process was killed (and its consumer in the group: the next worker waited out its
session).

Old enough is ``max_age_s`` once no message waits beyond the batch's (``waiting``: the
consumer knows of later offsets, in Kafka or in faust's buffers), else ``catch_up_age_s``.
So a quiet stream's batch is written ``max_age_s`` after its first message, and under
load a batch takes in everything that arrived while the last one was written: batches
grow with the input rate, and a rep is scored once for all its events of that time,
without a batch waiting longer than it must. (A batch that waited as long as the last
one took to write, the rule before, doubled the latency at a tenth of the worker's
capacity: a long batch made the next one long.)

A batch that fails to be written (Kafka refuses its alerts, say) is not acked, and the
batcher takes and writes nothing after it: the error stops the worker, and a restart
redelivers that batch and everything after it, as after a kill -9.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import structlog

from scorers.intake import Message
from streams.worker.metrics import WorkerMetrics

Ack = Callable[[Any], Awaitable[object]]
Handle = Callable[[Sequence[Message]], Awaitable[None]]
Crash = Callable[[BaseException], None]
"""Ends the worker with the error (``faust_adapter.exit_failed``)."""
Waiting = Callable[[Mapping[tuple[str, int], int]], bool]
"""Whether a message waits to be added beyond the given next offsets per partition."""
T = TypeVar("T")

log = structlog.get_logger()

WAITING_RECHECK_S: Final = 0.005


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_messages: int
    max_age_s: float
    catch_up_age_s: float


@dataclass(frozen=True, slots=True)
class Chore:
    """Work the timer does between batches every ``every_s``, when ``needed()`` says so."""

    every_s: float
    needed: Callable[[], bool]
    run: Callable[[], Awaitable[None]]


class Batcher:
    def __init__(
        self,
        handle: Handle,
        ack: Ack,
        limits: BatchLimits,
        metrics: WorkerMetrics,
        waiting: Waiting = lambda _: False,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.handle = handle
        self.ack = ack
        """The agent's stream's ``ack``."""
        self.limits = limits
        self.metrics = metrics
        self.waiting = waiting
        self._events: list[Any] = []
        self._messages: list[Message] = []
        self._next: dict[tuple[str, int], int] = {}
        """The open batch's next offset per partition (one past its last message)."""
        self._started = 0.0
        self._ask_again = 0.0
        """Before this time, messages still wait (``waiting`` was asked then)."""
        self._monotonic, self._wall = monotonic, wall
        # The agent adds while the timer may end a batch: one at a time.
        self._lock = asyncio.Lock()
        self._failed: Exception | None = None
        """The error a batch failed to be written with: the worker is stopping, and the
        batch and every message after it are to be redelivered, none written or acked."""

    async def add(self, event: Any, message: Message) -> None:
        """Hold a consumed message; end the batch when it is full or old enough."""
        async with self._lock:
            if self._failed is not None:
                raise self._failed
            if not self._events:
                self._started = self._monotonic()
            self._events.append(event)
            self._messages.append(message)
            self._next[(message.topic, message.partition)] = message.offset + 1
            self.metrics.events_in.labels(message.topic).inc()
            if message.timestamp is not None:
                self.metrics.arrival.observe(max(0.0, self._wall() - message.timestamp))
            if len(self._events) >= self.limits.max_messages or self._old_enough():
                await self._end()

    async def tick(self) -> None:
        """End a batch that is old enough (for the timer: no message may come to end it).
        Raises once a batch failed, wherever it was written (a definition's switch writes
        the open batch too): no message may come to raise it."""
        if self._failed is not None:
            raise self._failed
        if self._events and self._old_enough():
            async with self._lock:
                await self._end()

    def start_timer(
        self, interval_s: float, crash: Crash, chore: Chore | None = None
    ) -> asyncio.Task[None]:
        """Tick every ``interval_s`` (and do ``chore``) in a task beside the stream; cancel it
        when the stream stops. Its context is fresh: no message is current while it writes.

        A batch (or chore) it fails to write goes to ``crash``, which stops the worker: that
        batch is not acked, and reading on past it would leave its events out until a
        restart. A restart redelivers it, as after a kill -9."""

        async def end_old_batches() -> None:
            last_chore_s = self._monotonic()
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await self.tick()
                    if chore is not None and self._monotonic() - last_chore_s >= chore.every_s:
                        last_chore_s = self._monotonic()
                        if chore.needed():
                            await self.between_batches(chore.run)
                except Exception as exc:
                    log.exception("batch_failed")
                    crash(exc)
                    return

        return asyncio.create_task(end_old_batches(), context=contextvars.Context())

    async def between_batches(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` with no batch open: the open one is written first."""
        async with self._lock:
            await self._end()
            return await work()

    async def end_open(self) -> None:
        """Write and ack the open batch now (the stream stops), unless one failed."""
        async with self._lock:
            if self._failed is None:
                await self._end()

    def _old_enough(self) -> bool:
        now = self._monotonic()
        age = now - self._started
        if age < self.limits.max_age_s or now < self._ask_again:
            return False
        if age >= self.limits.catch_up_age_s or not self.waiting(self._next):
            return True
        # A worker reading a backlog would ask at every message: every 5 ms will do.
        self._ask_again = now + WAITING_RECHECK_S
        return False

    async def _end(self) -> None:
        """Write the open batch, then ack its messages (none open: nothing)."""
        if self._failed is not None:
            raise self._failed
        if not self._events:
            return
        events, self._events = self._events, []
        messages, self._messages = self._messages, []
        self._next = {}
        self.metrics.batch.observe(len(events))
        begin = self._monotonic()
        try:
            await self.handle(messages)
        except Exception as exc:
            self._failed = exc
            raise
        self.metrics.batch_seconds.observe(self._monotonic() - begin)
        for event in events:
            await self.ack(event)
