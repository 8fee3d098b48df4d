"""A rep's daily history, written by the scorecard sink in the card's pipeline (real Redis).

A day goes to the history once it is over for the card: when the card that replaces it
is of a later day. Today's point is the card itself (the reader adds it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import orjson
import pytest
import redis.asyncio

from sinks.redis_keys import HISTORY_DAYS, RedisKeys
from tests.sinks.redis_support import AS_OF, card, prefixed, write_cards

pytestmark = pytest.mark.redis


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


def day(offset: int) -> str:
    return (date.fromordinal(AS_OF) + timedelta(days=offset)).isoformat()


async def test_a_day_keeps_its_last_card_once_a_later_day_replaces_it(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Two cards on day 0, then day 1: day 0 holds the later of the two; a card
    HISTORY_DAYS later drops the days before its kept span; a team card has no history."""
    key = RedisKeys(prefix).rep_history("ana", "30d")
    first = card("ana", overall=50.0, uncapped=52.0, as_of=AS_OF)
    later_same_day = card("ana", overall=61.0, uncapped=64.5, as_of=AS_OF)
    next_day = card("ana", overall=55.0, as_of=AS_OF + 1)
    await write_cards(redis_client, prefix, [first])
    await write_cards(redis_client, prefix, [later_same_day], replacing=[first])
    assert await redis_client.hgetall(key) == {}  # day 0 is not over yet
    team_today, team_tomorrow = (
        card(None, "north", 40.0),
        card(None, "north", 41.0, as_of=AS_OF + 1),
    )
    await write_cards(redis_client, prefix, [team_today])
    await write_cards(
        redis_client, prefix, [next_day, team_tomorrow], replacing=[later_same_day, team_today]
    )
    assert await redis_client.hgetall(key) == {day(0): "[61.0,64.5]"}

    far = card("ana", overall=70.0, as_of=AS_OF + HISTORY_DAYS)  # keeps days 1..HISTORY_DAYS
    await write_cards(redis_client, prefix, [far], replacing=[next_day])
    history = await redis_client.hgetall(key)
    assert sorted(history) == [day(1)]  # day 0 fell out of the kept span
    assert orjson.loads(history[day(1)]) == [55.0, 55.0]
    assert [k async for k in redis_client.scan_iter(match=f"{prefix}:history:*")] == [key]


async def test_a_null_overall_removes_the_day_and_a_rewrite_changes_nothing(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """No score that day: no entry (not a zero). Writing the same cards again (a retried
    batch) leaves the same hash."""
    key = RedisKeys(prefix).rep_history("ana", "7d")
    scored = card("ana", overall=50.0, window="7d")
    tomorrow = card("ana", overall=51.0, window="7d", as_of=AS_OF + 1)
    for _ in range(2):
        await write_cards(redis_client, prefix, [tomorrow], replacing=[scored])
        assert await redis_client.hgetall(key) == {day(0): "[50.0,50.0]"}
    unscored = replace(scored, overall=None, overall_uncapped=None)
    await write_cards(redis_client, prefix, [tomorrow], replacing=[unscored])
    assert await redis_client.hgetall(key) == {}
