"""What the worker runs under faust: its two agents, its timers and its rebalance hook.

A CRM message goes: ``crm_events`` -> ``batching.Batcher`` -> ``shell.Shell.handle`` ->
``scorers.planner.plan_batch`` -> the state table, Redis and the output topics. ``app``
only attaches these to faust.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, Final, ParamSpec

import structlog

from schemas.definition_version import DefinitionVersion
from scorers.effects import DeadLettered
from scorers.intake import Message
from scorers.rep_scoring import Layout
from sinks.redis_scorecards import RedisScorecardSink
from streams.worker.batching import Batcher, BatchLimits, Chore, Crash
from streams.worker.definitions import DefinitionFollower
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import delivered
from streams.worker.shell import Shell
from streams.worker.teams import TeamHandler

LIMITS: Final = BatchLimits(max_messages=2000, max_age_s=0.05, catch_up_age_s=1.0)
"""A batch is written once its first message is 50 ms old and no message waits beyond it
(the latency a message may pay so that the reps of a busy stream are scored once for
several events), else at 1 s or 2,000 messages."""
BEHIND_S: Final = 5.0
"""A worker whose newest message handled is over 5 s old while messages wait is catching
up (``progress.Progress``): it folds, and scores now and then."""
TICK_S: Final = 1.0
"""How often the worker checks, between batches, whether the as-of day moved, it caught up
or scoring is due."""


log = structlog.get_logger()
P = ParamSpec("P")


def _stops_the_worker(
    work: Callable[Concatenate[Agents, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[Agents, P], Coroutine[Any, Any, None]]:
    """An error in ``work`` ends the worker (``Agents.crash``). faust would restart the agent,
    which reads on past the messages it held, unacked, leaving them out until a restart."""

    @functools.wraps(work)
    async def run(self: Agents, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await work(self, *args, **kwargs)
        except Exception as exc:
            log.exception("agent_failed", agent=work.__name__)
            self.crash(exc)
            raise

    return run


@dataclass(frozen=True, slots=True)
class Agents:
    shell: Shell
    teams: TeamHandler
    follower: DefinitionFollower
    sink: RedisScorecardSink
    metrics: WorkerMetrics
    ready: Callable[[], bool]
    """Tables recovered and no rebalance under way: state can be read and scored."""
    crash: Crash
    """Ends the worker (a batch that cannot be written: a restart redelivers it, as after a
    kill -9)."""

    @_stops_the_worker
    async def crm_events(self, stream: Any) -> None:
        # NOTE: no `yield`; concurrency=1 keeps offset commits in order. Acked by the
        # batcher, by hand, once a message's batch is written.
        acked = stream.noack()
        batches = Batcher(self.shell.handle, acked.ack, LIMITS, self.metrics, self.shell.waiting)
        chore = Chore(TICK_S, lambda: self.ready() and self.shell.needs_tick(),
                      lambda: self.shell.handle(()))  # fmt: skip
        timer = batches.start_timer(LIMITS.max_age_s / 5, self.crash, chore)
        following = asyncio.create_task(
            self.follower.run(lambda v, k: batches.between_batches(lambda: self._use(v, k))),
            context=contextvars.Context(),
        )
        try:
            async for event in acked.events():
                await batches.add(event, _message(event))
        finally:  # stopping: write and ack the open batch, or faust waits for its acks
            following.cancel()
            await batches.end_open()
            timer.cancel()

    @_stops_the_worker
    async def team_updates(self, stream: Any) -> None:
        async for event in stream.events():
            rejected = self.teams.handle(_message(event))
            if rejected is not None:
                now = datetime.now(UTC)
                letters = [DeadLettered.of(rejected, now)]
                await delivered(await self.shell.outputs.dead_letters(letters))

    @_stops_the_worker
    async def write_teams(self) -> None:
        if self.ready():
            await self.teams.score_marked(datetime.now(UTC).isoformat(timespec="milliseconds"))

    @_stops_the_worker
    async def check_redis(self) -> None:
        """Notice Redis losing what the worker wrote, and write it all again."""
        if self.ready() and await self.sink.lost_data():
            self.shell.redis_lost()
            self.teams.rewrite()

    async def on_revoked(self, sender: Any, *_: Any, **__: Any) -> None:
        self.shell.forget()
        self.teams.forget()

    async def _use(self, version: DefinitionVersion, kept_days: int) -> None:
        """A new version, between two batches: every rep scored again now (once ready)."""
        self.shell.use(Layout.of(version.definition, version.version, kept_days))
        self.teams.use(version.definition, version.version)
        if self.ready():
            await self.shell.handle(())


def _message(event: Any) -> Message:
    """A faust event as the worker's ``Message``."""
    m = event.message
    return Message(event.key, event.value, m.topic, m.partition, m.offset, m.timestamp)
