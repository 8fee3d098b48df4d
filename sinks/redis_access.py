"""API tokens' grants in Redis: what ``scorestream access`` writes and every ``serve`` reads.

One hash, one field per grant: granting and revoking are one write each, and a ``serve``
reads the grant on each request that carries its token, so a revocation holds on every
server at once. Key: ``sinks.redis_keys``.
"""

from __future__ import annotations

import redis.asyncio
from pydantic import ValidationError

from schemas.access import Grant
from sinks.exceptions import RedisStoreError
from sinks.redis_calls import text as _text
from sinks.redis_calls import translated
from sinks.redis_keys import RedisKeys


class RedisGrants:
    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self._client = client
        self.keys = RedisKeys(prefix)

    async def add(self, grant: Grant) -> None:
        with translated(f"grant {grant.id}"):
            await self._client.hset(self.keys.access_grants, grant.id, grant.model_dump_json())

    async def get(self, grant_id: str) -> Grant | None:
        """The grant, or None when there is none (never granted, or revoked)."""
        with translated(f"grant {grant_id}"):
            raw = await self._client.hget(self.keys.access_grants, grant_id)
        return None if raw is None else _grant(grant_id, raw)

    async def all(self) -> list[Grant]:
        """Every grant, oldest first."""
        with translated("the grants"):
            raw = await self._client.hgetall(self.keys.access_grants)
        grants = [_grant(_text(gid), value) for gid, value in raw.items()]
        return sorted(grants, key=lambda g: (g.granted_at, g.id))

    async def revoke(self, grant_id: str) -> bool:
        """Delete the grant; whether there was one."""
        with translated(f"grant {grant_id}"):
            return bool(await self._client.hdel(self.keys.access_grants, grant_id))


def _grant(grant_id: str, raw: bytes | str) -> Grant:
    try:
        return Grant.model_validate_json(raw)
    except ValidationError as exc:
        raise RedisStoreError(f"grant {grant_id!r} in Redis is not a grant: {exc}") from exc
