"""A rep's daily history, written by the scorecard sink in the card's pipeline (real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import orjson
import pytest
import redis.asyncio

from sinks.redis_keys import HISTORY_DAYS, RedisKeys
from sinks.redis_scorecards import RedisScorecardSink
from tests.sinks.redis_support import AS_OF, card, prefixed

pytestmark = pytest.mark.redis


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


def day(offset: int) -> str:
    return (date.fromordinal(AS_OF) + timedelta(days=offset)).isoformat()


async def test_each_day_keeps_its_last_overall_and_old_days_go(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Two cards on one day keep the later; a card HISTORY_DAYS later drops the days before
    its window of kept days; a team card has no history."""
    sink = RedisScorecardSink(redis_client, prefix)
    key = RedisKeys(prefix).rep_history("ana", "30d")
    for offset, overall in [(0, 50.0), (1, 55.0)]:
        sink.add(card("ana", overall=overall, as_of=AS_OF + offset), None)
        await sink.flush()
    sink.add(card("ana", overall=61.0, uncapped=64.5, as_of=AS_OF + 1), None)
    sink.add(card(None, "north", 40.0, as_of=AS_OF + 1), None)
    await sink.flush()
    assert await redis_client.hgetall(key) == {day(0): "[50.0,50.0]", day(1): "[61.0,64.5]"}

    sink.add(card("ana", overall=70.0, as_of=AS_OF + HISTORY_DAYS), None)
    await sink.flush()
    history = await redis_client.hgetall(key)
    assert sorted(history) == [day(1), day(HISTORY_DAYS)]
    assert orjson.loads(history[day(HISTORY_DAYS)]) == [70.0, 70.0]
    assert [k async for k in redis_client.scan_iter(match=f"{prefix}:history:*")] == [key]


async def test_a_null_overall_removes_the_day_and_a_rewrite_changes_nothing(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """No score that day: no entry (not a zero). A cold sink rewriting the same card leaves
    the same hash."""
    key = RedisKeys(prefix).rep_history("ana", "7d")
    sink = RedisScorecardSink(redis_client, prefix)
    written = card("ana", overall=50.0, window="7d")
    sink.add(written, None)
    await sink.flush()
    before = await redis_client.hgetall(key)
    cold = RedisScorecardSink(redis_client, prefix)
    cold.add(written, None)
    await cold.flush()
    assert await redis_client.hgetall(key) == before == {day(0): "[50.0,50.0]"}

    cold.add(replace(written, overall=None, overall_uncapped=None), None)
    await cold.flush()
    assert await redis_client.hgetall(key) == {}
