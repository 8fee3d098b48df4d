"""What the workers tell Redis about scorecard versions, for the pages and the CLI.

Every version read from ``scorecards.definitions`` goes into one hash, and each version a
worker puts in force into a sorted set by number (the highest is in force), so readers
never need Kafka. A version that drops windows also takes their cards, histories and
leaderboards out of Redis: nothing scores them any more. All writes are absolute (HSET,
ZADD, UNLINK, SREM): every worker of a group writes the same, and a worker that puts the
version in force last (after the others, or at its start) takes out what is left.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import redis.asyncio
import structlog

from schemas.definition_version import DefinitionVersion
from sinks.redis_calls import RedisCalls
from sinks.redis_calls import text as _text
from sinks.redis_keys import RedisKeys, all_metrics

log = structlog.get_logger(__name__)


class RedisDefinitionSink:
    def __init__(self, calls: RedisCalls, prefix: str) -> None:
        self.calls = calls
        self.keys = RedisKeys(prefix)

    async def record(self, versions: Sequence[DefinitionVersion]) -> None:
        """Keep the versions read (a refused one too: the history shows it)."""
        if not versions:
            return
        fields = {str(v.version): v.to_bytes() for v in versions}

        async def write(client: redis.asyncio.Redis) -> None:
            await client.hset(self.keys.definitions, mapping=fields)  # type: ignore[arg-type]

        await self.calls.run(f"recording {len(fields)} scorecard versions", write)

    async def in_force(self, version: int) -> None:
        """``version`` is in force from now on (readers name the highest)."""

        async def write(client: redis.asyncio.Redis) -> None:
            await client.zadd(self.keys.applied_definitions, {str(version): version})

        await self.calls.run(f"putting scorecard version {version} in force", write)

    async def keep_windows(self, windows: Collection[str]) -> None:
        """Only ``windows`` are scored now: any other window Redis has cards for leaves it,
        each rep's and team's card and history, and the boards."""
        keys = self.keys
        retired: list[str] = []

        async def write(client: redis.asyncio.Redis) -> None:
            known = {_text(w) for w in await client.smembers(keys.windows)}
            retired[:] = sorted(known - set(windows))
            if not retired:
                return
            reps = await client.smembers(keys.reps)
            teams = await client.smembers(keys.teams)
            async with client.pipeline(transaction=False) as pipe:
                for window in retired:
                    for rep in map(_text, reps):  # a rep's keys share its slot
                        pipe.unlink(keys.rep_card(rep, window), keys.rep_history(rep, window))
                    for team in map(_text, teams):
                        pipe.unlink(keys.team_card(team, window))
                    for metric in all_metrics():  # a window's boards share its slot
                        pipe.unlink(
                            keys.leaderboard(window, metric),
                            keys.teams_leaderboard(window, metric),
                        )
                    pipe.srem(keys.windows, window)
                await pipe.execute()

        await self.calls.run(f"keeping the windows {sorted(windows)}", write)
        if retired:
            log.info("redis.windows_retired", windows=retired)
