"""The people directory in Redis: each rep's team, e-mail and manager's e-mail, from its
latest ``rep_upserted``, so ``serve`` knows who a signed-in person is without Kafka.

The worker writes an entry per rep (HSET of the whole entry: absolute, idempotent);
``serve`` reads them all to find a person by e-mail. Key: ``sinks.redis_keys``.
"""

from __future__ import annotations

import redis.asyncio
from pydantic import ValidationError

from schemas.access import DirectoryEntry
from sinks.exceptions import RedisStoreError
from sinks.redis_calls import translated
from sinks.redis_keys import RedisKeys


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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
