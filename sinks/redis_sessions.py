"""Browser sessions in Redis: the cookie holds a random value, Redis its hash and how the
browser signed in, until the session expires (``EXPIRE``) or signs out (``DEL``); and the
sign-ins under way with the identity provider, each taken once by its callback.

A stolen Redis dump holds no cookie; sign-out ends a session on every ``serve``.
Key: ``sinks.redis_keys``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio
from pydantic import ValidationError

from schemas.access import PendingLogin, Session, token_digest
from sinks.exceptions import RedisStoreError
from sinks.redis_calls import translated
from sinks.redis_keys import RedisKeys


class RedisSessions:
    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self._client = client
        self.keys = RedisKeys(prefix)

    async def start(self, cookie: str, session: Session) -> None:
        ttl_s = max(1, int((session.expires_at - datetime.now(UTC)).total_seconds()))
        with translated("a new session"):
            await self._client.set(self._key(cookie), session.model_dump_json(), ex=ttl_s)

    async def get(self, cookie: str) -> Session | None:
        with translated("a session"):
            raw = await self._client.get(self._key(cookie))
        if raw is None:
            return None
        try:
            return Session.model_validate_json(raw)
        except ValidationError as exc:
            raise RedisStoreError(f"a session in Redis is not a session: {exc}") from exc

    async def end(self, cookie: str) -> None:
        with translated("a session"):
            await self._client.delete(self._key(cookie))

    def _key(self, cookie: str) -> str:
        return self.keys.session(token_digest(cookie))


class RedisLogins:
    """Sign-ins under way, by the hash of their ``state``: put once, taken once."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self._client = client
        self.keys = RedisKeys(prefix)

    async def put(self, state: str, login: PendingLogin, ttl_s: int) -> None:
        with translated("a sign-in under way"):
            await self._client.set(self._key(state), login.model_dump_json(), ex=ttl_s)

    async def take(self, state: str) -> PendingLogin | None:
        """The sign-in, deleted in the same step: a second callback with it finds nothing."""
        with translated("a sign-in under way"):
            raw = await self._client.getdel(self._key(state))
        if raw is None:
            return None
        try:
            return PendingLogin.model_validate_json(raw)
        except ValidationError as exc:
            raise RedisStoreError(f"a sign-in in Redis is not one: {exc}") from exc

    def _key(self, state: str) -> str:
        return self.keys.login(token_digest(state))
