"""An error in an agent or a timer stops the worker: faust would restart the agent, which
reads on past the messages it held, unacked, and leaves their events out until a restart."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from streams.worker.agents import Agents


def agents_whose_teams_fail(error: Exception, crashes: list[BaseException]) -> Agents:
    async def score_marked(as_of: str) -> None:
        raise error

    def handle(message: Any) -> None:
        raise error

    def crash(exc: BaseException) -> None:
        crashes.append(exc)

    fake: Any = SimpleNamespace(score_marked=score_marked, handle=handle)
    return Agents(shell=fake, teams=fake, follower=fake, sink=fake, metrics=fake,
                  ready=lambda: True, crash=crash)  # fmt: skip


async def test_an_error_in_a_timer_crashes_the_worker_with_it_and_is_raised() -> None:
    refused = RuntimeError("refused")
    crashes: list[BaseException] = []
    with pytest.raises(RuntimeError, match="refused"):
        await agents_whose_teams_fail(refused, crashes).write_teams()
    assert crashes == [refused]


async def test_an_error_in_an_agent_crashes_the_worker_with_it_and_is_raised() -> None:
    refused = RuntimeError("refused")
    crashes: list[BaseException] = []
    agents = agents_whose_teams_fail(refused, crashes)
    with pytest.raises(RuntimeError, match="refused"):
        await agents.team_updates(SimpleNamespace(events=_one_event))
    assert crashes == [refused]


async def test_an_agent_that_ends_cleanly_crashes_nothing() -> None:
    crashes: list[BaseException] = []
    agents = agents_whose_teams_fail(RuntimeError("unused"), crashes)
    await agents.team_updates(SimpleNamespace(events=_no_events))
    assert crashes == []


async def _one_event() -> Any:
    message = SimpleNamespace(topic="t", partition=0, offset=0, timestamp=None)
    yield SimpleNamespace(key=b"k", value=b"{}", message=message)


async def _no_events() -> Any:
    return
    yield
