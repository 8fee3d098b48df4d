"""The worker's batching: when a batch ends, that acks follow the write, and that
scoring runs without the folding message's context (faust's current event)."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any, cast

from streams.worker.batching import Batcher
from streams.worker.event_handler import EventHandler, Message
from streams.worker.metrics import WorkerMetrics

current: contextvars.ContextVar[str | None] = contextvars.ContextVar("current", default=None)


class FakeHandler:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def fold(self, msg: Message) -> None:
        self.log.append(f"fold {msg.offset}")

    async def end_batch(self) -> None:
        self.log.append(f"end current={current.get()}")


def message(offset: int, sent: float | None = None) -> Message:
    return Message(b"rep", b"{}", "crm.calls", 0, offset, sent)


def batcher(log: list[str], *, max_messages: int = 3, max_age_s: float = 60.0) -> Batcher:
    handler = cast(EventHandler, FakeHandler(log))
    out = Batcher(
        handler, WorkerMetrics(), max_messages=max_messages, max_age_s=max_age_s,
        catch_up_age_s=max_age_s * 10, behind_s=1.0,
    )  # fmt: skip

    async def ack(event: Any) -> None:
        log.append(f"ack {event}")

    out.ack = ack
    return out


async def test_a_full_batch_is_scored_once_then_acked_without_the_message_context() -> None:
    log: list[str] = []
    batches = batcher(log)
    current.set("message")  # as faust sets its current event while a message is handled
    for offset in range(4):
        await batches.add(offset, message(offset))
    assert log == [
        "fold 0", "fold 1", "fold 2", "end current=None", "ack 0", "ack 1", "ack 2", "fold 3",
    ]  # fmt: skip


async def test_a_batch_no_message_follows_is_ended_by_the_timer_once_old_enough() -> None:
    log: list[str] = []
    batches = batcher(log, max_age_s=0.05)
    await batches.add(7, message(7))
    await batches.tick()
    assert log == ["fold 7"], "too young to end"
    await asyncio.sleep(0.06)
    await batches.tick()
    await batches.tick()
    assert log == ["fold 7", "end current=None", "ack 7"]


async def test_the_batchers_own_timer_ends_an_old_batch() -> None:
    log: list[str] = []
    batches = batcher(log, max_age_s=0.02)
    timer = batches.start_timer(0.01)
    try:
        await batches.add(1, message(1))
        assert log == ["fold 1"]
        await asyncio.sleep(0.1)
        assert log == ["fold 1", "end current=None", "ack 1"]
    finally:
        timer.cancel()


async def test_a_worker_behind_lets_its_batch_grow_older() -> None:
    """Messages sent 5 s ago: the batch waits for the catch-up age, not the usual one."""
    log: list[str] = []
    batches = batcher(log, max_age_s=0.02)
    await batches.add(1, message(1, sent=time.time() - 5))
    await asyncio.sleep(0.03)
    await batches.tick()
    assert log == ["fold 1"], "behind: 0.03 s is young for a batch"
    await batches.add(2, message(2, sent=time.time()))  # caught up again
    assert log == ["fold 1", "fold 2", "end current=None", "ack 1", "ack 2"]


async def test_a_batch_gathers_for_as_long_as_the_last_one_took_to_write() -> None:
    """Under load batches grow: the next one waits as long as the last write took."""
    log: list[str] = []
    batches = batcher(log, max_age_s=0.01)
    slow_end = batches.handler.end_batch

    async def end_in_a_tenth() -> None:
        await asyncio.sleep(0.1)
        await slow_end()

    batches.handler.end_batch = end_in_a_tenth  # type: ignore[method-assign]
    await batches.add(1, message(1))
    await asyncio.sleep(0.02)
    await batches.tick()  # 0.02 s > max_age_s: ends, and takes 0.1 s
    assert log[-2:] == ["end current=None", "ack 1"]
    await batches.add(2, message(2))
    await asyncio.sleep(0.03)
    await batches.tick()
    assert log[-1] == "fold 2", "0.03 s is young next to a 0.1 s write"
    await asyncio.sleep(0.09)
    await batches.tick()
    assert log[-1] == "ack 2"
