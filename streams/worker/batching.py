"""Groups the worker's CRM messages into batches, so each rep is scored once per batch.

faust hands the agent one message at a time. Each is folded at once (its table writes
go to the changelog partition of the message being handled), but scoring and writing
wait until the batch is old enough or ``max_messages`` long; a timer ends a batch
that no further message comes to end. Messages are acked only after their batch is
written: at least once.

The timer is a task of the agent's own (``start_timer``), not an app timer: at
shutdown faust stops its timers first and then waits for every message in flight to
be acked, so a batch left open to an app timer held the shutdown until the process
was killed (and its consumer in the group: the next worker waited out its session).

Old enough is ``max_age_s``, or as long as the last batch took to score and write
(up to ``catch_up_age_s``), whichever is longer: under load a batch gathers what
arrives while the previous one is written, so batches grow with the input rate and
each rep is scored once for more of its events, instead of the worker falling
behind on small batches. A worker that is far behind (its newest message is older
than ``behind_s``: a backlog) takes ``catch_up_age_s`` at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from streams.worker.event_handler import EventHandler, Message
from streams.worker.metrics import WorkerMetrics

Ack = Callable[[Any], Awaitable[object]]
T = TypeVar("T")


class Batcher:
    def __init__(
        self,
        handler: EventHandler,
        metrics: WorkerMetrics,
        *,
        max_messages: int,
        max_age_s: float,
        catch_up_age_s: float,
        behind_s: float,
    ) -> None:
        self.handler = handler
        self.ack: Ack | None = None
        """The agent's stream's ``ack``, set when the agent starts iterating."""
        self.metrics = metrics
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.catch_up_age_s = catch_up_age_s
        self.behind_s = behind_s
        self._age_limit = max_age_s
        self._last_end_s = 0.0
        """How long the last batch took to score and write."""
        self._events: list[Any] = []
        self._started = 0.0
        # The agent folds while the timer may end a batch: one at a time.
        self._lock = asyncio.Lock()

    async def add(self, event: Any, message: Message) -> None:
        """Fold a consumed message; end the batch when it is full or old enough."""
        async with self._lock:
            if not self._events:
                self._started = time.monotonic()
            await self.handler.fold(message)
            self._events.append(event)
            behind = (
                message.timestamp is not None and time.time() - message.timestamp > self.behind_s
            )
            self._age_limit = (
                self.catch_up_age_s
                if behind
                else max(self.max_age_s, min(self._last_end_s, self.catch_up_age_s))
            )
            if len(self._events) >= self.max_messages or self._age() >= self._age_limit:
                await self._end()

    async def tick(self) -> None:
        """End a batch that is old enough (for the timer: no message may come to end it)."""
        if self._events and self._age() >= self._age_limit:
            async with self._lock:
                await self._end()

    def start_timer(self, interval_s: float) -> asyncio.Task[None]:
        """Tick every ``interval_s`` in a task beside the stream; cancel it when the stream
        stops. Its context is fresh: no message is current while it writes a batch."""

        async def end_old_batches() -> None:
            while True:
                await asyncio.sleep(interval_s)
                await self.tick()

        return asyncio.create_task(end_old_batches(), context=contextvars.Context())

    async def between_batches(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` with no batch open: the open one is ended (written) first, so
        ``work`` reads tables that hold every folded event."""
        async with self._lock:
            await self._end()
            return await work()

    async def end_open(self) -> None:
        """Write and ack the open batch now (the stream stops)."""
        async with self._lock:
            await self._end()

    def _age(self) -> float:
        return time.monotonic() - self._started

    async def _end(self) -> None:
        """Score and write the open batch, then ack its messages (none open: nothing)."""
        if not self._events:
            return
        events, self._events = self._events, []
        self.metrics.batch.observe(len(events))
        # Scoring reads the state of every rep of the batch, but while a message is
        # faust's current event (a context variable) a table read looks only in that
        # message's partition: score in a fresh context, which has no current event.
        begin = time.monotonic()
        await asyncio.create_task(self.handler.end_batch(), context=contextvars.Context())
        self._last_end_s = time.monotonic() - begin
        assert self.ack is not None, "no stream to ack on"
        for event in events:
            await self.ack(event)
