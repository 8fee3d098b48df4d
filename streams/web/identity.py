"""Who is asking: a bearer token or a session cookie -> a ``Principal`` (or nobody).

Read again on every request (one Redis read): a revoked grant, an ended session or a
changed ``SCORESTREAM_WEB_TOKEN`` holds on every ``serve`` at once, with no cache to age.
Only the people directory (every rep, for a signed-in person's role) is kept for up to
``DIRECTORY_FRESH_S``: a CRM change of manager still holds within a second.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Final

import redis.asyncio

from schemas.access import DirectoryEntry, Grant, Role, Session, split_token, token_digest
from schemas.settings import Settings
from scorers.access import Principal, managed_teams, principal_for_email
from sinks.redis_access import RedisGrants
from sinks.redis_directory import DirectoryReader
from sinks.redis_sessions import RedisLogins, RedisSessions

WEB_TOKEN_NAME: Final = "web token"
DIRECTORY_FRESH_S: Final = 1.0
"""How long a read of the whole directory answers for every request after it."""
ANONYMOUS: Final = Principal(Role.ADMIN, "anonymous (no access control configured)")
"""Who everybody is on a server with neither a web token nor sign-in configured."""


class Identities:
    """Credentials to principals, against the grants, sessions and directory in Redis."""

    def __init__(self, settings: Settings, client: redis.asyncio.Redis) -> None:
        token = settings.web_token
        self._web_token = None if token is None else token.get_secret_value()
        self._admins = frozenset(email.lower() for email in settings.web_admins)
        self.grants = RedisGrants(client, settings.redis_prefix)
        self.sessions = RedisSessions(client, settings.redis_prefix)
        self.logins = RedisLogins(client, settings.redis_prefix)
        self.directory = DirectoryReader(client, settings.redis_prefix)
        self._directory_read: tuple[float, dict[str, DirectoryEntry]] | None = None
        self.guarded = self._web_token is not None or settings.oidc_issuer is not None
        """False: nobody configured access control, everyone is ``ANONYMOUS``."""

    async def from_token(self, token: str) -> Principal | None:
        """The principal a bearer token (or the sign-in form's token) stands for."""
        if self._web_token is not None and _same(token, self._web_token):
            return Principal(Role.ADMIN, WEB_TOKEN_NAME)
        parts = split_token(token)
        if parts is None:
            return None
        grant = await self.grants.get(parts[0])
        if grant is None or not _same(token_digest(token), grant.token_sha256):
            return None
        return await self.from_grant(grant)

    async def from_grant(self, grant: Grant) -> Principal | None:
        if grant.expired(datetime.now(UTC)):
            return None
        name = f"token {grant.id}"
        if grant.role is Role.MANAGER:
            teams = set(grant.teams)
            if grant.email is not None:
                teams |= managed_teams(grant.email, await self._directory())
            return Principal(Role.MANAGER, name, frozenset(teams), grant_id=grant.id)
        return Principal(grant.role, name, rep_id=grant.rep_id, grant_id=grant.id)

    async def from_session(self, cookie: str) -> Principal | None:
        session = await self.sessions.get(cookie)
        if session is None or session.expired(datetime.now(UTC)):
            return None
        return await self._of_session(session)

    async def _of_session(self, session: Session) -> Principal | None:
        if session.web_token_mac is not None:
            if self._web_token is None or not _same(session.web_token_mac, self.web_token_mac()):
                return None  # the token changed: every browser signed in with it is out
            return Principal(Role.ADMIN, WEB_TOKEN_NAME)
        if session.grant_id is not None:
            grant = await self.grants.get(session.grant_id)
            return None if grant is None else await self.from_grant(grant)
        if session.email is not None:
            return await self.from_email(session.email)
        return None

    async def from_email(self, email: str) -> Principal | None:
        """A signed-in person: admin if named in settings, else what the directory says."""
        if email.lower() in self._admins:  # no directory read for them
            return principal_for_email(email, self._admins, {})
        return principal_for_email(email, self._admins, await self._directory())

    async def _directory(self) -> dict[str, DirectoryEntry]:
        now = time.monotonic()
        if self._directory_read is None or now - self._directory_read[0] > DIRECTORY_FRESH_S:
            self._directory_read = (now, await self.directory.entries())
        return self._directory_read[1]

    def web_token_mac(self) -> str:
        """What a session made with the web token holds: changing the token ends it."""
        assert self._web_token is not None
        mac = hmac.new(self._web_token.encode(), b"scorestream session", hashlib.sha256)
        return mac.hexdigest()


def _same(given: str, expected: str) -> bool:
    # Constant time: the comparison must not tell an attacker how much of a guess is right.
    return hmac.compare_digest(given.encode(), expected.encode())
