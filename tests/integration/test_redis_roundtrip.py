"""The Redis commands the sinks rely on, against the real redis-server (redis.asyncio).

Sinks write absolute values (SET/HSET, ZADD of the new score), keep leaderboards in
sorted sets and a capped change stream; each is checked here on a real server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
import redis.asyncio

pytestmark = pytest.mark.redis

RedisKey = Callable[[str], str]


async def test_set_get(redis_client: redis.asyncio.Redis, redis_key: RedisKey) -> None:
    """A scorecard written with SET reads back byte for byte; a second SET replaces it."""
    key = redis_key("scorecard:{rep-1}:30d")
    assert await redis_client.set(key, '{"overall": 71.5}')
    assert await redis_client.get(key) == '{"overall": 71.5}'
    await redis_client.set(key, '{"overall": 80.0}')
    assert await redis_client.get(key) == '{"overall": 80.0}'


async def test_zadd_zrange_leaderboard(
    redis_client: redis.asyncio.Redis, redis_key: RedisKey
) -> None:
    """ZADD of absolute scores ranks reps; re-adding a member moves it, never duplicates it."""
    key = redis_key("lb:{team-a}:30d:overall")
    await redis_client.zadd(key, {"rep-1": 55.0, "rep-2": 90.5, "rep-3": 72.25})
    await redis_client.zadd(key, {"rep-1": 95.0})
    top = await redis_client.zrange(key, 0, -1, desc=True, withscores=True)
    assert top == [("rep-1", 95.0), ("rep-2", 90.5), ("rep-3", 72.25)]
    assert await redis_client.zcard(key) == 3


async def test_xadd_capped_stream(redis_client: redis.asyncio.Redis, redis_key: RedisKey) -> None:
    """XADD with an exact MAXLEN keeps only the newest entries, in order."""
    key = redis_key("changes")
    for i in range(25):
        await redis_client.xadd(
            key, {"rep_id": f"rep-{i}", "overall": str(i)}, maxlen=10, approximate=False
        )
    assert await redis_client.xlen(key) == 10
    entries = cast(list[tuple[str, dict[str, str]]], await redis_client.xrange(key))
    assert [fields["rep_id"] for _, fields in entries] == [f"rep-{i}" for i in range(15, 25)]


async def test_pipeline_is_atomic_batch(
    redis_client: redis.asyncio.Redis, redis_key: RedisKey
) -> None:
    """A MULTI/EXEC pipeline (the sinks' batch write) applies every command."""
    card, board = redis_key("card:{rep-9}"), redis_key("lb:{all}")
    async with redis_client.pipeline(transaction=True) as pipe:
        pipe.hset(card, mapping={"overall": "64.0", "window": "30d"})
        pipe.zadd(board, {"rep-9": 64.0})
        results = await pipe.execute()
    assert results == [2, 1]
    assert await redis_client.hgetall(card) == {"overall": "64.0", "window": "30d"}
    assert await redis_client.zscore(board, "rep-9") == 64.0
