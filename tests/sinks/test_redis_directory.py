"""The people directory in Redis: the latest ``rep_upserted`` wins whatever the write order."""

from __future__ import annotations

import pytest
import redis.asyncio

from schemas.access import DirectoryEntry, DirectoryUpdate
from sinks.redis_calls import RedisCalls
from sinks.redis_directory import DirectoryReader, write_entries
from sinks.redis_keys import RedisKeys
from tests.sinks.redis_support import delete_prefix, new_prefix

pytestmark = pytest.mark.redis

OLD = DirectoryUpdate((1_000, "e1"), DirectoryEntry(team_id="south", email="ana@old.com"))
NEW = DirectoryUpdate((2_000, "e0"), DirectoryEntry(team_id="north", email="ana@x.com"))
SAME_TIME = DirectoryUpdate((2_000, "e2"), DirectoryEntry(team_id="west", manager_email="m@x"))


async def test_an_older_entry_never_overwrites_a_newer_one(
    redis_client: redis.asyncio.Redis,
) -> None:
    prefix = new_prefix()
    keys, calls = RedisKeys(prefix), RedisCalls(redis_client)
    reader = DirectoryReader(redis_client, prefix)
    try:
        await write_entries(calls, keys, {"ana": NEW, "bob": OLD})
        await write_entries(calls, keys, {"ana": OLD})  # late, or redelivered
        assert await reader.entries() == {"ana": NEW.entry, "bob": OLD.entry}
        await write_entries(calls, keys, {"ana": SAME_TIME})  # same time: the event id decides
        await write_entries(calls, keys, {"ana": NEW})
        assert (await reader.entries())["ana"] == SAME_TIME.entry
    finally:
        await delete_prefix(redis_client, prefix)
