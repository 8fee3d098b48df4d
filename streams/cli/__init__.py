"""What every ``scorestream`` command shares: settings, the scorecard, Redis reads, failing.

Each command is a module of this package named after it; ``streams.cli.main`` puts
them together. A problem the user can fix ends the command here, with the fix and
an exit code: 2 for set-up (a bad variable, a missing file, Redis not answering),
1 when a server answers with something unusable.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from schemas.scorecard_definition import DefinitionError, ScorecardDefinition, load_definition
from schemas.settings import Settings, SettingsError, masked_url
from schemas.windows import is_window
from sinks.exceptions import RedisStoreError, RedisUnavailableError
from streams.runtime import connections
from streams.runtime.exceptions import AccessError
from streams.runtime.logs import configure_logging
from streams.views.documents import BadParameter, NotFound
from streams.views.reading import RedisScorecardReader

T = TypeVar("T")


def fail(message: str, *, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment; a bad variable ends the command with its fix."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        fail(str(exc), code=2)
    configure_logging(settings.log_format)
    return settings


def definition_or_exit(path: Path | None) -> ScorecardDefinition:
    """The scorecard at ``path`` (or the default); a bad file ends the command with its errors."""
    try:
        return load_definition(path)
    except DefinitionError as exc:
        fail(str(exc), code=2)


def day_or_exit(option: str, text: str | None) -> date | None:
    """A day given as YYYY-MM-DD (None stays None); anything else ends the command."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: expected a day as YYYY-MM-DD", code=2)


def window_or_exit(option: str, window: str) -> str:
    if not is_window(window):
        fail(f"{option} {window!r}: use Nd (e.g. 30d), week, month or quarter", code=2)
    return window


def publisher(name: str | None) -> str:
    """Who publishes a scorecard version: ``name``, else the user running the command."""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment nor in the password file
        return "unknown"


def run_read(settings: Settings, read: Callable[[RedisScorecardReader], Awaitable[T]]) -> T:
    """``read`` with a reader on the configured Redis; Redis errors, a bad option
    (``BadParameter``: exit 2) and an unknown rep (``NotFound``: exit 1) end the command.

    KeyboardInterrupt passes through (``--watch`` loops end on it).
    """

    async def with_reader() -> T:
        await connections.check_redis(settings)
        reader = connections.scorecard_reader(settings)
        try:
            return await read(reader)
        finally:
            await reader.aclose()

    try:
        return asyncio.run(with_reader())
    except AccessError as exc:
        fail(str(exc), code=2)
    except RedisUnavailableError as exc:
        fail(
            f"Redis at {masked_url(settings.redis_url)} does not answer ({exc.__cause__ or exc});"
            " start it with `make up`",
            code=2,
        )
    except RedisStoreError as exc:
        fail(str(exc), code=1)
    except BadParameter as exc:
        fail(f"--{exc}", code=2)
    except NotFound as exc:
        fail(str(exc), code=1)
