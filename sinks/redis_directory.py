"""The people directory in Redis: each rep's team, e-mail and manager's e-mail, from its
latest ``rep_upserted``, so ``serve`` knows who a signed-in person is without Kafka.

The worker writes an entry per rep with the event's order key, and a script writes it
only over an older one: the latest ``rep_upserted`` wins whatever the order in which
batches, redeliveries or two workers around a rebalance write. ``serve`` reads them all
to find a person by e-mail. Key: ``sinks.redis_keys``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson
import redis.asyncio
from pydantic import ValidationError

from schemas.access import DirectoryEntry, DirectoryUpdate
from sinks.exceptions import RedisStoreError
from sinks.redis_calls import RedisCalls, translated
from sinks.redis_calls import text as _text
from sinks.redis_keys import RedisKeys

# KEYS[1] the directory; ARGV: rep, entry JSON, occurred_us, event_id. Lua compares
# strings bytewise, as Python compares UTF-8 text; micro-seconds fit a double exactly.
_WRITE_IF_NEWER: Final = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local key = cjson.decode(old)['key']
  local us = tonumber(ARGV[3])
  if key[1] > us or (key[1] == us and key[2] >= ARGV[4]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


async def write_entries(
    calls: RedisCalls, keys: RedisKeys, updates: Mapping[str, DirectoryUpdate]
) -> None:
    """Each rep's entry, unless Redis holds one from a later ``rep_upserted``."""
    if not updates:
        return

    async def write(client: redis.asyncio.Redis) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for rep_id, update in updates.items():
                body = {**update.entry.model_dump(), "key": list(update.key)}
                pipe.eval(_WRITE_IF_NEWER, 1, keys.directory, rep_id, orjson.dumps(body),
                          update.key[0], update.key[1])  # fmt: skip
            await pipe.execute()

    await calls.run(f"writing {len(updates)} directory entries", write)


class DirectoryReader:
    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self._client = client
        self.keys = RedisKeys(prefix)

    async def entries(self) -> dict[str, DirectoryEntry]:
        """Every rep's entry, by rep id."""
        with translated("the people directory"):
            raw = await self._client.hgetall(self.keys.directory)
        try:
            return {
                _text(rep): DirectoryEntry.model_validate_json(value) for rep, value in raw.items()
            }
        except ValidationError as exc:
            raise RedisStoreError(f"the people directory holds a bad entry: {exc}") from exc
