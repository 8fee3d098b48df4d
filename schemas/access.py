"""Who may use ``scorestream serve``: the roles, and the grant behind an API token.

A grant is what ``scorestream access grant`` stores (in Redis, ``sinks.redis_access``):
the role and its scope, never the token itself, only the token's SHA-256. A token is
``ss_<grant id>_<secret>``: the id finds the grant in one read, the hash proves the secret.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.events import NonEmptyStr, RepUpserted

GRANT_ID_PATTERN: Final = r"^[a-z0-9]{12}$"
TOKEN_PREFIX: Final = "ss_"
"""Every granted token starts so: a leaked one is recognisable (secret scanners, logs)."""

_DURATION = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
_UNIT_S: Final = {"m": 60, "h": 3600, "d": 86_400}


class Role(StrEnum):
    """What a person or program may see; ``scorers.access`` says what each one opens."""

    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"
    DISPLAY = "display"


class Grant(BaseModel):
    """One API token's role and scope, as stored; the token is only its hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=GRANT_ID_PATTERN)]
    role: Role
    teams: tuple[NonEmptyStr, ...] = ()
    """A manager's teams, as granted (more come from the directory when ``email`` is set)."""
    rep_id: NonEmptyStr | None = None
    """A rep's own id."""
    email: NonEmptyStr | None = None
    """A manager's e-mail: the teams of the reps whose ``manager_email`` it is count too."""
    granted_at: AwareDatetime
    granted_by: NonEmptyStr
    expires_at: AwareDatetime | None = None
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="after")
    def _scope_fits_role(self) -> Grant:
        problems = scope_problems(self.role, self.teams, self.rep_id, self.email)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def scope_problems(
    role: Role, teams: tuple[str, ...], rep_id: str | None, email: str | None
) -> list[str]:
    """What is wrong with a grant's scope for ``role`` (in the CLI's option names)."""
    problems = []
    if role is Role.REP and rep_id is None:
        problems.append("a rep token needs --rep REP_ID (whose scorecard it opens)")
    if role is not Role.REP and rep_id is not None:
        problems.append(f"--rep is for rep tokens, not {role}")
    if role is Role.MANAGER and not teams and email is None:
        problems.append("a manager token needs --team TEAM (repeatable) or --email (directory)")
    if role is not Role.MANAGER and (teams or email is not None):
        problems.append(f"--team and --email are for manager tokens, not {role}")
    return problems


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h`` or ``90m`` as a timedelta; anything else raises ``ValueError``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r}: expected a number and a unit, m, h or d (e.g. 30d)")
    return timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])


def split_token(token: str) -> tuple[str, str] | None:
    """A granted token's (grant id, secret), or None when it is not one of ours."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    grant_id, _, secret = token.removeprefix(TOKEN_PREFIX).partition("_")
    if not re.match(GRANT_ID_PATTERN, grant_id) or not secret:
        return None
    return grant_id, secret


def token_digest(token: str) -> str:
    """What is stored of a token (or a session's cookie): its SHA-256, hex.

    A fast hash is enough: the secrets are 256 random bits, not passwords to guess.
    """
    return hashlib.sha256(token.encode()).hexdigest()


class Session(BaseModel):
    """A signed-in browser, as stored under the hash of its cookie; exactly one way in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    web_token_mac: str | None = None
    """Signed in with ``SCORESTREAM_WEB_TOKEN``: its HMAC, so changing the token ends it."""
    grant_id: str | None = None
    """Signed in with a granted token: the grant, read again on every request."""
    email: str | None = None
    """Signed in with the identity provider: the ID token's e-mail."""
    created_at: AwareDatetime
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _one_way_in(self) -> Session:
        ways = [self.web_token_mac, self.grant_id, self.email]
        if sum(way is not None for way in ways) != 1:
            raise ValueError("a session holds exactly one of web_token_mac, grant_id, email")
        return self

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class PendingLogin(BaseModel):
    """A sign-in with the identity provider between the redirect there and the way back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nonce: str
    """Must come back in the ID token: binds the token to this sign-in."""
    code_verifier: str
    """PKCE: only this server can trade the code the provider hands back for tokens."""
    next: str
    """Where to go once signed in (a path on this server)."""


class DirectoryEntry(BaseModel):
    """A rep in the people directory (from its latest ``rep_upserted``)."""

    model_config = ConfigDict(frozen=True)

    team_id: str | None = None
    email: str | None = None
    manager_email: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryUpdate:
    """A rep's directory entry from a ``rep_upserted``, with the event's order key."""

    key: tuple[int, str]
    """The event's (occurred_us, event_id): a later one wins, whatever the arrival order."""
    entry: DirectoryEntry

    @classmethod
    def of(cls, event: RepUpserted, key: tuple[int, str]) -> DirectoryUpdate:
        entry = DirectoryEntry(
            team_id=event.team_id, email=event.email, manager_email=event.manager_email
        )
        return cls(key, entry)
