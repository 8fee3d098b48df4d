"""A recovery that reads nothing for a minute, with records left, ends the worker with a
report of what it waited on; a slow one that reads is left alone."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from streams.worker.recovery_watch import EXIT_STALLED, STALL_S, RecoveryWatch


class Ended(Exception):
    pass


class World:
    def __init__(self) -> None:
        self.now = 0.0
        self.left: dict[str, int] = {"state-changelog[2]": 3}
        self.ended: list[tuple[str, int, dict[str, Any]]] = []

    def report(self) -> dict[str, Any]:
        return {"flow_active": False, "left": {"state-changelog[2]": {"read_to": 3}}}

    def exit_now(self, event: str, code: int, **context: Any) -> NoReturn:
        self.ended.append((event, code, context))
        raise Ended

    def watch(self) -> RecoveryWatch:
        return RecoveryWatch(lambda: dict(self.left), self.report, lambda: self.now,
                             self.exit_now)  # fmt: skip


async def _at(watch: RecoveryWatch, world: World, *times: float) -> None:
    for now in times:
        world.now = now
        await watch.check()


async def test_a_recovery_that_reads_nothing_for_a_minute_ends_the_worker_saying_why() -> None:
    world = World()
    watch = world.watch()
    await _at(watch, world, 0, 30, STALL_S - 1)
    assert world.ended == []
    with pytest.raises(Ended):
        await _at(watch, world, STALL_S)
    [(event, code, context)] = world.ended
    assert (event, code, context["seconds"]) == ("recovery_stalled", EXIT_STALLED, STALL_S)
    assert context["flow_active"] is False
    assert context["left"] == {"state-changelog[2]": {"read_to": 3}}
    assert any("test_recovery_watch.py" in where for where in context["waiting"]), context


async def test_a_recovery_that_reads_however_slowly_is_left_alone() -> None:
    world = World()
    watch = world.watch()
    for minute in range(1, 6):
        await _at(watch, world, minute * STALL_S - 1)
        world.left["state-changelog[2]"] += 1  # one record a minute
        await _at(watch, world, minute * STALL_S)
    assert world.ended == []


async def test_nothing_left_to_read_is_no_stall_and_starts_the_minute_again() -> None:
    world = World()
    watch = world.watch()
    await _at(watch, world, 0, STALL_S - 1)
    world.left = {}  # recovered; a later recovery stands at the same offset
    await _at(watch, world, STALL_S, 2 * STALL_S)
    world.left = {"state-changelog[2]": 3}
    await _at(watch, world, 2 * STALL_S + 1, 3 * STALL_S)
    assert world.ended == []
    with pytest.raises(Ended):
        await _at(watch, world, 3 * STALL_S + 1)
