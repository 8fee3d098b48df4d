"""``scorestream access grant|list|revoke``: API tokens for programs and screens.

A token is printed once, at grant; Redis keeps only its hash and the grant (role, scope,
expiry). ``serve`` reads the grant on every request that carries the token, so a
revocation holds on every server within a second. Each grant and revocation is logged
with who and what, never the token.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import orjson
import structlog
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from schemas.access import TOKEN_PREFIX, Grant, Role, parse_duration, scope_problems, token_digest
from sinks.exceptions import RedisStoreError, RedisUnavailableError
from sinks.redis_access import RedisGrants
from streams.cli import fail, load_settings, publisher
from streams.runtime import connections
from streams.runtime.exceptions import AccessError
from streams.views import reading
from streams.views.formatting import plain

log = structlog.get_logger(__name__)

app = typer.Typer(help="API tokens for `serve`: grant one to a role, list them, revoke one.")

T = TypeVar("T")
GRANT_ID_CHARS: Final = string.ascii_lowercase + string.digits
SECRET_BYTES: Final = 32
"""256 random bits: no guessing, and a plain SHA-256 is enough to store it."""


@app.command("grant")
def grant(
    role: Annotated[Role, typer.Option(help="What the token opens.")],
    team: Annotated[
        list[str] | None, typer.Option(help="A manager's team (repeat for several).")
    ] = None,
    rep: Annotated[str | None, typer.Option(help="A rep token's own rep id.")] = None,
    email: Annotated[
        str | None,
        typer.Option(help="A manager's e-mail: the teams of reps whose manager it is count."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 30d, 12h, 90m (default: no expiry).")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who grants it (default: your user).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"id", "token"}.')] = False,
) -> None:
    """Make a token for ROLE and print it once (only its hash is kept)."""
    teams = tuple(team or ())
    problems = scope_problems(role, teams, rep, email)
    if problems:
        fail("; ".join(problems), code=2)
    now = datetime.now(UTC)
    try:
        lifetime = None if expires is None else parse_duration(expires)
    except ValueError as exc:
        fail(f"--expires {exc}", code=2)
    grant_id = "".join(secrets.choice(GRANT_ID_CHARS) for _ in range(12))
    token = f"{TOKEN_PREFIX}{grant_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    try:
        record = Grant(
            id=grant_id, role=role, teams=teams, rep_id=rep, email=email, granted_at=now,
            granted_by=publisher(by), expires_at=None if lifetime is None else now + lifetime,
            token_sha256=token_digest(token),
        )  # fmt: skip
    except ValidationError as exc:
        fail(f"the grant is not valid: {exc.errors()[0]['msg']}", code=2)
    _run(lambda grants: grants.add(record))
    log.info("access.granted", **_described(record))
    if as_json:
        typer.echo(orjson.dumps({"id": grant_id, "token": token}).decode())
    else:
        typer.echo(f"granted {grant_id} ({role}); the token, shown only now:\n{token}")


@app.command("list")
def list_grants(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array of grants.")] = False,
) -> None:
    """Every grant (never a token): id, role, scope, who granted it, expiry."""
    grants = _run(lambda store: store.all())
    if as_json:
        typer.echo(orjson.dumps([_described(g) for g in grants]).decode())
        return
    table = Table("id", "role", "scope", "granted by", "granted at", "expires")
    for g in grants:
        table.add_row(
            g.id, g.role.value, plain(_scope(g)), plain(g.granted_by),
            g.granted_at.isoformat(timespec="seconds"),
            "never" if g.expires_at is None else g.expires_at.isoformat(timespec="seconds"),
        )  # fmt: skip
    Console().print(table)


@app.command("revoke")
def revoke(grant_id: Annotated[str, typer.Argument(help="The grant's id (see `list`).")]) -> None:
    """Delete a grant: its token stops working on every `serve` within a second."""
    if not _run(lambda grants: grants.revoke(grant_id)):
        fail(f"no grant {grant_id!r} (see `scorestream access list`)", code=1)
    log.info("access.revoked", id=grant_id, by=publisher(None))
    typer.echo(f"revoked {grant_id}")


def _run(call: Callable[[RedisGrants], Awaitable[T]]) -> T:
    settings = load_settings()

    async def with_grants() -> T:
        await connections.check_redis(settings)
        client = connections.redis_client(settings, **reading.client_options(5))
        try:
            return await call(RedisGrants(client, settings.redis_prefix))
        finally:
            await client.aclose()

    try:
        return asyncio.run(with_grants())
    except (AccessError, RedisUnavailableError) as exc:
        fail(f"{exc}; start Redis with `make up` or check SCORESTREAM_REDIS_URL", code=2)
    except RedisStoreError as exc:
        fail(str(exc), code=1)


def _described(grant: Grant) -> dict[str, Any]:
    """A grant as logs and ``list --json`` show it: everything but the token's hash."""
    return grant.model_dump(mode="json", exclude={"token_sha256"})


def _scope(grant: Grant) -> str:
    parts = [*(f"team {t}" for t in grant.teams)]
    if grant.email:
        parts.append(f"manager {grant.email}")
    if grant.rep_id:
        parts.append(f"rep {grant.rep_id}")
    return ", ".join(parts) or "-"
