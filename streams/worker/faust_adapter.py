"""Every use of faust's internals, in one place, pinned by a contract test.

faust has no public API for what the worker needs in ten places, so it reaches inside here
and nowhere else. ``tests/streams/worker/test_faust_adapter.py`` fails if an upgrade renames
or reshapes any of them, and ``pyproject.toml`` bounds faust to the versions it passed on:

- the consumer's committed offsets (``Consumer._committed_offset``), to tell a partition the
  group never committed, and how far behind a worker is;
- the seek after a rebalance (``Consumer.perform_seek``), made to lose no message (below);
- the app's transport (``App._new_transport``), to install that consumer, and its
  dependencies (``App.on_init_dependencies``), to leave out faust's Monitor and to run checks
  from the start (``App.every``; faust's timers start once the first recovery is done);
- a table partition's RocksDB (``Store._dbs``, ``Store._db_for_partition``), read whole on
  assignment and written per batch (``state_table``);
- the worker's stop (``Worker._schedule_shutdown``), given a deadline, and its end when a
  batch fails (``exit_failed``: why not faust's stop);
- the fetch loop's hand-over of each message (``Service.wait_first`` as
  ``Consumer._drain_messages`` calls it), made to cost no task when nothing waits;
- the table recovery's progress (``Recovery.active_remaining``, ``active_offsets``) and
  what it waits on (the flow, paused and buffered partitions, aiokafka's fetched records),
  to end a worker whose recovery stalled (``recovery_watch``) and say why;
- the consumer's creation (``AIOKafkaConsumerThread._create_worker_consumer``), to read
  committed records only, and its fetches (``Consumer._getmany``) with the positions
  aiokafka keeps (``SubscriptionState``), to see past transaction markers (below).

A CRM that writes in Kafka transactions leaves a marker after each commit or abort: an
offset no consumer is given. Counted as a message, it made a caught-up worker look one
message behind forever, so every batch waited its longest and the worker soon thought
itself behind (no alerts, scoring every few seconds). And faust reads uncommitted
records unless it runs its own transactions, so an aborted transaction's events were
scored. This consumer reads committed records only, and notes after each fetch where
aiokafka's position stands (past any marker or aborted record) and where the records it
returned end (``Fetched``): once every record returned is handled, the rest up to the
position holds nothing to handle.

The consumer, made to lose no message when partitions move between workers. faust drops
messages it has fetched in a rebalance: those in the streams' buffers, which it clears when
the flow resumes, and the rest of a fetch cut short. It counts on one step to read them
again: once the tables are recovered it seeks every partition back to the group's committed
offset (``Consumer.perform_seek``). That step has two holes, both seen when one worker took
over the partitions of another that was killed
(``tests/integration/test_worker_scale_out.py``: events missing from the cards):

- aiokafka seeks only the partitions whose committed offset is above 0. A partition the
  group never committed (its owner died before its first commit, every 2.8 s) stays where
  the dropped fetch left it: a run (its offset lookups slowed down to widen the window)
  started a crm.calls partition at offset 531, not 65.
- faust seeks while messages still flow into the buffers: one fetched from the new
  position before the buffers are cleared is dropped with no seek after it (likely how a
  run at normal speed lost one NPS response).

So this consumer stops the flow before it seeks (faust clears the buffers and resumes the
flow right after) and sends a partition without a committed offset back to offset 0, where
the group's first consumer started. A message read twice is harmless: the worker's state
recognises a redelivered event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import suppress
from typing import Any, Final, NoReturn

import faust
import structlog
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka
from faust.types import TP
from faust.worker import Worker
from mode import Service
from mode.services import WaitResults

from streams.runtime import stopping
from streams.worker.progress import Fetched

log = structlog.get_logger()


class CommittedReadingThread(aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # faust asks for read_committed only when it runs its own transactions; read before
        # start(), which hands it to the fetcher.
        consumer._isolation_level = "read_committed"
        return consumer


class RewindingConsumer(aiokafka.Consumer):
    _fetched: dict[TP, Fetched] | None = None

    def _new_consumer_thread(self) -> aiokafka.AIOKafkaConsumerThread:
        return CommittedReadingThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        records = await super()._getmany(active_partitions, timeout)
        # Read here, in the fetch loop's turn: the consumer thread moves positions only while
        # a fetch is asked of it, and none is until this one's records are handed on.
        fetched = self._fetched = self._fetched or {}
        assignment = _aiokafka_assignment(self)
        if assignment is not None:
            for tp in assignment.tps if active_partitions is None else active_partitions:
                state = assignment.state_value(tp)
                if state is None or not state.has_valid_position:
                    continue
                batch = records.get(tp)
                before = fetched.get(tp)
                end = batch[-1].offset + 1 if batch else (before.records_end if before else 0)
                fetched[tp] = Fetched(state.position, end)
        return records

    def fetched(self, tp: TP) -> Fetched | None:
        """Where ``tp``'s fetches stand (None: no fetch since it was assigned or sought)."""
        return None if self._fetched is None else self._fetched.get(tp)

    def stable_end(self, tp: TP) -> int | None:
        """The partition's last stable offset as last fetched: the end of what reading
        committed records can reach (None: not fetched yet, or not assigned now)."""
        assignment = _aiokafka_assignment(self)
        state = None if assignment is None else assignment.state_value(tp)
        if state is None:
            return None
        lso: int | None = state.lso
        return lso if lso is not None and lso >= 0 else state.highwater

    async def perform_seek(self) -> None:
        self.stop_flow()  # nothing more reaches the buffers; faust resumes after clearing them
        self._fetched = None  # positions move back; records returned are fetched again
        await super().perform_seek()
        changelogs = self.app.tables.changelog_topics
        for tp in self.assignment():
            if tp.topic not in changelogs and committed_offset(self, tp) is None:
                # Offset 0, not aiokafka's seek_to_beginning, which waits for the fetcher to
                # reset the position: faust runs this in its fetch loop too, and with it the
                # changelog recovery got no record for minutes in two of three runs. Where
                # retention removed offset 0, the fetch resets to the earliest (the default).
                with suppress(IllegalStateError):  # a new rebalance took it; its recovery seeks
                    await self.seek(tp, 0)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        """faust's fetch loop hands every message to its callback as
        ``wait_first(callback(message), suspend_flow.wait())``: four tasks and an
        ``asyncio.wait`` per message, though the callback nearly always returns at once (it
        puts the message in a stream's buffer). The callback's first step runs here instead;
        one that does wait (the producer's buffer is full) is finished by faust's
        ``wait_first``, which the flow's suspension or the consumer's stop can cut short."""
        first = coros[0] if coros else None
        if not asyncio.iscoroutine(first) or self._stopped.is_set() or self._crashed.is_set():
            return await super().wait_first(*coros, timeout=timeout)
        try:
            waiting_on = first.send(None)
        except BaseException as ended:
            for other in coros[1:]:
                if asyncio.iscoroutine(other):
                    other.close()  # never to run: no "never awaited" warning
            if isinstance(ended, StopIteration):
                return WaitResults([first], [ended.value], False)
            raise  # as faust's wait_first raises the callback's error
        resumed = Resumed(first, waiting_on)
        return await super().wait_first(resumed, *coros[1:], timeout=timeout)


class Resumed:
    """A coroutine run up to its first wait, awaited from there on like any other."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coro, self.waiting_on = coro, waiting_on

    def __await__(self) -> Generator[Any, None, Any]:
        coro, step = self.coro, self.waiting_on
        while True:
            try:
                yield step  # to the task that awaits this, as the coroutine yielded it
            except BaseException as exc:  # cancelled while waiting: the coroutine is told
                try:
                    step = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    step = coro.send(None)
                except StopIteration as done:
                    return done.value


class RewindingTransport(aiokafka.Transport):
    Consumer = RewindingConsumer


class App(faust.App):
    """A faust app whose consumer is the ``RewindingConsumer``, and which can run checks
    from its start (``every``)."""

    _checks: list[Service] | None = None

    def _new_transport(self) -> Any:
        return RewindingTransport(self.conf.broker_consumer, self)

    def every(self, seconds: float, check: Callable[[], Awaitable[None]]) -> None:
        """Run ``check`` every ``seconds`` while the app runs, from its start: faust's own
        timers begin only once the first table recovery is done."""
        self._checks = [*(self._checks or []), Every(seconds, check)]

    def on_init_dependencies(self) -> Any:
        services = super().on_init_dependencies()
        # faust's Monitor keeps per-message statistics for its stats pages, which the worker
        # does not serve: in the live profile (issue 24) it was 2% of the worker's CPU.
        self.sensors.remove(self.monitor)
        return [*services, *(self._checks or [])]


class Every(Service):
    """Awaits ``check`` every ``seconds``, started and stopped with the app's consumer and
    tables (a dependency of the app)."""

    def __init__(self, seconds: float, check: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self.seconds, self.check = seconds, check

    @Service.task
    async def _run(self) -> None:
        while not self.should_stop:
            await self.sleep(self.seconds)
            if not self.should_stop:
                await self.check()


def _aiokafka_assignment(consumer: Any) -> Any | None:
    """aiokafka's per-partition state of the assignment (None: not started, or between
    assignments)."""
    kafka = consumer._thread._consumer
    subscription = None if kafka is None else kafka._subscription.subscription
    return None if subscription is None else subscription.assignment


def committed_offset(consumer: Any, tp: TP) -> int | None:
    """Where the group's committed offset left a partition (faust keeps it; no public API)."""
    committed: int | None = consumer._committed_offset.get(tp)
    return committed


def ready(app: faust.App) -> bool:
    """Tables recovered and no rebalance under way: state can be read and scored."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return not app.rebalancing and bool(recovery.completed.is_set())


def recovery_left(app: faust.App) -> dict[str, int]:
    """Each changelog partition the table recovery still has records to read from, and the
    offset it has read to (empty: no recovery under way, or nothing left to read)."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    if not recovery.in_recovery:
        return {}
    return {_name(tp): recovery.active_offsets[tp] for tp in _left(recovery)}


def recovery_report(app: faust.App) -> dict[str, Any]:
    """What a table recovery that does not end waits on: the flow, faust's paused and
    buffered partitions, and for each changelog partition still to read, where its fetch
    stands (aiokafka's position, records fetched and not taken, the offset below which faust
    drops records) against the highwater, and where the consumer thread's tasks wait."""
    consumer = app.consumer
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    assignment = _aiokafka_assignment(consumer)
    kafka = consumer._thread._consumer  # type: ignore[attr-defined]
    unread = set() if kafka is None else set(kafka._fetcher._records)
    left = {}
    for tp in _left(recovery):
        state = None if assignment is None else assignment.state_value(tp)
        position = state.position if state is not None and state.has_valid_position else None
        left[_name(tp)] = {
            "read_to": recovery.active_offsets.get(tp),
            "highwater": recovery.active_highwaters.get(tp),
            "position": position,
            "fetched_unread": tp in unread,
            # faust drops a fetched record below this offset (a stale one, it assumes)
            "read_offset": consumer._read_offset.get(tp),  # type: ignore[attr-defined]
            "paused": tp in consumer._paused_partitions,  # type: ignore[attr-defined]
        }
    return {
        "in_recovery": bool(recovery.in_recovery),
        "flow_active": bool(consumer.flow_active),  # type: ignore[attr-defined]
        "flow_control_active": app.flow_control.is_active(),
        "buffered": sorted(map(str, consumer._buffered_partitions)),  # type: ignore[attr-defined]
        "left": left,
        # aiokafka runs in a thread of its own, on its own loop: fetches, offsets, rebalances
        "consumer_thread_waiting": stopping.waiting(consumer._thread.thread_loop),  # type: ignore[attr-defined]
    }


def _left(recovery: Any) -> list[TP]:
    """The changelog partitions the recovery still has records to read from."""
    return [tp for tp, remaining in recovery.active_remaining().items() if remaining > 0]


def _name(tp: TP) -> str:
    return f"{tp.topic}[{tp.partition}]"


def open_partition_db(table: Any, partition: int) -> Any | None:
    """The RocksDB of a table partition this worker has open, or None once faust closed it
    (a revoked partition, while a rebalance waits for the last batch's acks)."""
    return table.data._dbs.get(partition)


def partition_items(table: Any, partition: int) -> Iterator[tuple[bytes, bytes]]:
    """Every record of a table partition's RocksDB but faust's own persisted-offset record."""
    offset_key = table.data.offset_key
    for key, value in table.data._db_for_partition(partition).items():
        if key != offset_key:
            yield key, value


STOP_DEADLINE_S: Final = 25.0
"""A stop that takes longer than this ends the process (``stopping``): nothing is lost (the
open batch is not acked, so it is redelivered, and every state write is one a redelivery can
repeat), and a worker that hangs in its stop would hold its partitions until someone kills it."""


class DeadlineWorker(Worker):
    """faust's worker with a deadline on stopping (SIGTERM, Ctrl-C)."""

    def _schedule_shutdown(self, signal: Any) -> None:
        stopping.arm(STOP_DEADLINE_S)
        super()._schedule_shutdown(signal)


EXIT_FAILED: Final = 1


def exit_failed(error: BaseException) -> NoReturn:
    """End the process now, as a kill -9 would, after a batch failed to be written.

    Not faust's stop: it waits for every message handed to an agent to be acked, and the
    failed batch's never will be (after ``App.crash``, the crashed consumer thread left the
    last commit waiting too). Not a restarted agent: it would read on past the batch. A
    kill -9 loses nothing (the tests' chaos): the batch and all after it are redelivered."""
    stopping.exit_now("worker_failed", EXIT_FAILED, error=repr(error))
