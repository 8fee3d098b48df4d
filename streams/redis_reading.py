"""Run a read against Redis from a CLI command, with one way of saying "Redis is down".

``show`` and ``leaderboard`` share it, so both name the URL and the fix the same
way and exit with the same codes: 2 when Redis does not answer (a set-up
problem), 1 when it answers with something unusable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer

from schemas.settings import Settings
from sinks.exceptions import RedisStoreError, RedisUnavailableError
from sinks.redis_reader import RedisScorecardReader

T = TypeVar("T")


def run_read(settings: Settings, read: Callable[[RedisScorecardReader], Awaitable[T]]) -> T:
    """``read`` with a reader on the configured Redis; Redis errors end the command.

    KeyboardInterrupt passes through (``--watch`` loops end on it).
    """

    async def with_reader() -> T:
        reader = RedisScorecardReader.from_url(settings.redis_url, settings.redis_prefix)
        try:
            return await read(reader)
        finally:
            await reader.aclose()

    try:
        return asyncio.run(with_reader())
    except RedisUnavailableError as exc:
        fail(
            f"Redis at {safe_url(settings.redis_url)} does not answer ({exc.__cause__ or exc});"
            " start it with `make up`",
            code=2,
        )
    except RedisStoreError as exc:
        fail(str(exc), code=1)


def fail(message: str, *, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def safe_url(url: str) -> str:
    """``url`` without its password: error messages end up in logs and CI output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
