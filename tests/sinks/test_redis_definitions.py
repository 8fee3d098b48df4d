"""RedisDefinitionSink against the real redis-server: the versions read, the version in
force, and the windows a version drops taken out of Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio

from schemas.definition_version import DefinitionVersion
from schemas.scorecard_definition import load_definition
from sinks.redis_calls import RedisCalls
from sinks.redis_definitions import RedisDefinitionSink
from sinks.redis_keys import RedisKeys
from streams.views.reading import RedisScorecardReader
from tests.sinks.redis_support import card, prefixed, write_cards

pytestmark = pytest.mark.redis

DEFINITION = load_definition()
AT = datetime(2026, 3, 11, 9, tzinfo=UTC)


def version(number: int) -> DefinitionVersion:
    return DefinitionVersion.of(number, DEFINITION, note=f"v{number}", published_by="ops",
                                published_at=AT)  # fmt: skip


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


async def test_versions_read_and_the_highest_in_force_are_what_readers_see(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    sink = RedisDefinitionSink(RedisCalls(redis_client), prefix)
    reader = RedisScorecardReader(redis_client, prefix)
    assert await reader.definition_in_force() is None
    assert await reader.definition_versions() == []
    await sink.record([version(1), version(2)])
    await sink.record([version(10)])
    await sink.in_force(10)
    await sink.in_force(2)  # a slower worker, a moment later
    assert await reader.definition_in_force() == 10
    assert [v.version for v in await reader.definition_versions()] == [1, 2, 10]
    assert (await reader.definition_versions())[2] == version(10)


async def test_a_dropped_window_leaves_cards_histories_and_boards_the_others_stay(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Version 2 keeps 30d only: every rep's and team's 7d card, 7d history and 7d board
    are gone, and 7d is no longer a window; the 30d ones are untouched."""
    k = RedisKeys(prefix)
    yesterday = [card(rep, "north", 50.0, window="7d", as_of=700_000) for rep in ("ana", "bob")]
    await write_cards(redis_client, prefix, yesterday)
    today = [
        *(card(rep, "north", 60.0, window="7d", as_of=700_001) for rep in ("ana", "bob")),
        card("ana", "north", 70.0), card(None, "north", 65.0, window="7d"),
        card(None, "north", 66.0),
    ]  # fmt: skip
    await write_cards(redis_client, prefix, today, replacing=yesterday)
    assert await redis_client.exists(k.rep_history("ana", "7d"))
    sink = RedisDefinitionSink(RedisCalls(redis_client), prefix)
    await sink.keep_windows(["30d"])
    gone = [
        k.rep_card("ana", "7d"), k.rep_card("bob", "7d"), k.rep_history("ana", "7d"),
        k.team_card("north", "7d"), k.leaderboard("7d", "overall"),
        k.leaderboard("7d", "kpi:revenue_won"), k.teams_leaderboard("7d", "overall"),
    ]  # fmt: skip
    assert [key for key in gone if await redis_client.exists(key)] == []
    assert await redis_client.smembers(k.windows) == {"30d"}
    kept = [k.rep_card("ana", "30d"), k.team_card("north", "30d"), k.leaderboard("30d", "overall")]
    assert all([await redis_client.exists(key) for key in kept])
    await sink.keep_windows(["30d"])  # again: nothing left to take out
    assert await redis_client.smembers(k.windows) == {"30d"}
