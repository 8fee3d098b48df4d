"""The worker's batching: when a batch ends, and that acks follow the write.

Time is a fake clock the tests move by hand, so no assertion depends on how long
a sleep took on a busy machine; only the timer task's own test waits, for an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from scorers.intake import Message
from streams.worker.batching import Batcher, BatchLimits, Chore
from streams.worker.metrics import WorkerMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """The shell and the stream's ack, as a log of what happened in which order."""

    def __init__(self, clock: Clock, write_s: float = 0.0) -> None:
        self.log: list[str] = []
        self.clock = clock
        self.write_s = write_s
        self.written = asyncio.Event()

    async def handle(self, messages: Sequence[Message]) -> None:
        self.clock.now += self.write_s
        self.log.append(f"write {[m.offset for m in messages]}")
        self.written.set()

    async def ack(self, event: Any) -> None:
        self.log.append(f"ack {event}")


def message(offset: int, sent: float | None = None) -> Message:
    return Message(b"rep", b"{}", "crm.calls", 0, offset, sent)


def batcher(
    recorder: Recorder,
    clock: Clock,
    *,
    max_messages: int = 3,
    max_age_s: float = 60.0,
    waiting: set[tuple[str, int, int]] | None = None,
) -> Batcher:
    """``waiting``: the (topic, partition, offset)s the consumer has seen and not handed over."""
    limits = BatchLimits(max_messages, max_age_s, catch_up_age_s=max_age_s * 10)
    unread = waiting if waiting is not None else set()

    def waits(next_offsets: Mapping[tuple[str, int], int]) -> bool:
        return any(offset >= next_offsets.get((t, p), 0) for t, p, offset in unread)

    return Batcher(
        recorder.handle, recorder.ack, limits, WorkerMetrics(), waits, monotonic=clock, wall=clock
    )


async def test_a_full_batch_is_written_once_then_acked() -> None:
    clock = Clock()
    rec = Recorder(clock)
    batches = batcher(rec, clock)
    for offset in range(4):
        await batches.add(offset, message(offset, sent=clock.now))
    assert rec.log == ["write [0, 1, 2]", "ack 0", "ack 1", "ack 2"]
    await batches.end_open()
    assert rec.log[-2:] == ["write [3]", "ack 3"]


async def test_a_batch_no_message_follows_is_ended_by_a_tick_once_old_enough() -> None:
    clock = Clock()
    rec = Recorder(clock)
    batches = batcher(rec, clock, max_age_s=0.05)
    await batches.add(7, message(7, sent=clock.now))
    await batches.tick()
    assert rec.log == [], "too young to end"
    clock.now += 0.06
    await batches.tick()
    await batches.tick()
    assert rec.log == ["write [7]", "ack 7"]


async def test_an_old_batch_takes_in_what_waits_before_it_is_written() -> None:
    """Under load messages wait (in Kafka, in faust's buffers) while a batch is written: the
    next batch takes them all in before it ends, so a rep is scored once for all its events
    of that time, and it ends as soon as none waits."""
    clock = Clock()
    rec = Recorder(clock)
    waiting = {("crm.calls", 0, 2), ("crm.calls", 0, 3)}
    batches = batcher(rec, clock, max_messages=100, max_age_s=0.05, waiting=waiting)
    await batches.add(1, message(1, sent=clock.now))
    clock.now += 0.06
    await batches.tick()
    assert rec.log == [], "old enough, but offsets 2 and 3 wait"
    clock.now += 0.006  # it asks again after 5 ms at most
    await batches.add(2, message(2, sent=clock.now))
    assert rec.log == [], "offset 3 still waits"
    clock.now += 0.006
    await batches.add(3, message(3, sent=clock.now))
    assert rec.log == ["write [1, 2, 3]", "ack 1", "ack 2", "ack 3"]


async def test_a_young_batch_waits_for_its_age_even_when_nothing_waits() -> None:
    clock = Clock()
    rec = Recorder(clock)
    batches = batcher(rec, clock, max_messages=100, max_age_s=0.05)
    await batches.add(1, message(1, sent=clock.now))
    clock.now += 0.04
    await batches.add(2, message(2, sent=clock.now))
    assert rec.log == []
    clock.now += 0.02
    await batches.tick()
    assert rec.log == ["write [1, 2]", "ack 1", "ack 2"]


async def test_a_batch_ends_at_the_catch_up_age_however_much_waits() -> None:
    """A worker far behind always has messages waiting: its batches end at the catch-up age
    (ten times the usual here) or when full, never later."""
    clock = Clock()
    rec = Recorder(clock)
    waiting = {("crm.calls", 0, 10**9)}
    batches = batcher(rec, clock, max_messages=100, max_age_s=0.05, waiting=waiting)
    await batches.add(1, message(1, sent=clock.now))
    clock.now += 0.49
    await batches.tick()
    assert rec.log == []
    clock.now += 0.02
    await batches.tick()
    assert rec.log == ["write [1]", "ack 1"]
    for offset in range(2, 102):
        await batches.add(offset, message(offset, sent=clock.now))
    assert rec.log[2] == f"write {list(range(2, 102))}", "full before it was old"
    assert rec.log[3:] == [f"ack {offset}" for offset in range(2, 102)]


async def test_work_between_batches_runs_after_the_open_batch_is_written() -> None:
    clock = Clock()
    rec = Recorder(clock)
    batches = batcher(rec, clock)
    await batches.add(5, message(5, sent=clock.now))

    async def chore() -> None:
        rec.log.append("chore")

    await batches.between_batches(chore)
    assert rec.log == ["write [5]", "ack 5", "chore"]


async def test_the_batchers_own_timer_ends_an_old_batch_and_does_its_chore() -> None:
    """The timer is a task of the batcher's own (faust stops app timers before it waits for
    acks): it ends the old batch, then runs the chore when it is needed."""
    clock = Clock()
    rec = Recorder(clock)
    batches = batcher(rec, clock, max_age_s=1.0)
    await batches.add(1, message(1, sent=clock.now))
    clock.now += 2.0  # old enough now: only the timer is left to end it
    done = asyncio.Event()

    async def chore() -> None:
        rec.log.append("chore")
        done.set()

    crashes: list[BaseException] = []

    def crash(exc: BaseException) -> None:
        crashes.append(exc)

    timer = batches.start_timer(0.001, crash, Chore(0.0, lambda: True, chore))
    try:
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        timer.cancel()
    assert rec.log[:3] == ["write [1]", "ack 1", "chore"]
    assert crashes == []


async def test_a_batch_the_timer_fails_to_write_stops_the_worker_unacked() -> None:
    """Writing the batch raised (Kafka refused its alerts, say): nothing of it is acked and
    the worker is stopped with the error, so a restart redelivers the batch; the timer does
    not go on to end later batches past it."""
    clock = Clock()
    rec = Recorder(clock)
    refused = RuntimeError("refused")

    async def failing(messages: Sequence[Message]) -> None:
        rec.log.append(f"write {[m.offset for m in messages]}")
        raise refused

    batches = batcher(rec, clock, max_age_s=1.0)
    batches.handle = failing
    await batches.add(1, message(1, sent=clock.now))
    clock.now += 2.0
    assert await crashes_of_the_timer(batches) == [refused]
    assert rec.log == ["write [1]"]


async def test_after_a_batch_fails_nothing_more_is_taken_written_or_acked() -> None:
    """The worker is stopping: the failed batch and every message after it are redelivered
    by the restart, so none may be written or acked now (the stream's stop would otherwise
    write what came after the failed batch, and ack it)."""
    clock = Clock()
    rec = Recorder(clock)
    refused = RuntimeError("refused")
    fail = True

    async def handle(messages: Sequence[Message]) -> None:
        rec.log.append(f"write {[m.offset for m in messages]}")
        if fail:
            raise refused

    batches = batcher(rec, clock, max_messages=1)
    batches.handle = handle
    with pytest.raises(RuntimeError, match="refused"):
        await batches.add(1, message(1, sent=clock.now))
    fail = False
    with pytest.raises(RuntimeError, match="refused"):
        await batches.add(2, message(2, sent=clock.now))
    await batches.end_open()
    assert rec.log == ["write [1]"]


async def test_a_batch_that_failed_between_batches_stops_the_timer_with_its_error() -> None:
    """A definition's switch writes the open batch first, in its own task: when that write
    fails, the timer still ends the worker, though no message comes to meet the error."""
    clock = Clock()
    rec = Recorder(clock)
    refused = RuntimeError("refused")

    async def failing(messages: Sequence[Message]) -> None:
        raise refused

    async def switch() -> None:
        rec.log.append("switched")

    batches = batcher(rec, clock)
    batches.handle = failing
    await batches.add(1, message(1, sent=clock.now))
    with pytest.raises(RuntimeError, match="refused"):
        await batches.between_batches(switch)
    assert await crashes_of_the_timer(batches) == [refused]
    assert rec.log == []


async def crashes_of_the_timer(batches: Batcher) -> list[BaseException]:
    """Run the batcher's timer until it ends the worker; what it ended it with. The timer's
    task must be over by then: it ends no later batch."""
    crashes: list[BaseException] = []
    crashed = asyncio.Event()

    def crash(exc: BaseException) -> None:
        crashes.append(exc)
        crashed.set()

    timer = batches.start_timer(0.001, crash)
    await asyncio.wait_for(crashed.wait(), timeout=10)
    await asyncio.wait_for(timer, timeout=10)
    return crashes
