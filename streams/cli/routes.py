"""``scorestream routes check FILE``: validate a routing file of ``notify`` before it runs.

Every error names the line, the field and the fix. The variables the file names are read
and checked too (``--no-env`` skips them, e.g. in a review pipeline without the secrets);
URLs are shown masked and secrets never.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from schemas.routes import (
    ChannelSecrets,
    EmailChannel,
    RoutesError,
    RoutingFile,
    load_routes,
    masked,
    resolve_secrets,
)
from streams.cli import fail

app = typer.Typer(help="Routing files of `scorestream notify` (routing as code).",
                  no_args_is_help=True)  # fmt: skip


def routes_or_exit(
    path: Path, *, with_env: bool = True
) -> tuple[RoutingFile, dict[str, ChannelSecrets]]:
    """The routing file at ``path`` and its channels' secrets; a problem ends the command."""
    try:
        routes = load_routes(path)
        secrets = resolve_secrets(routes, os.environ) if with_env else {}
    except RoutesError as exc:
        fail(str(exc), code=2)
    return routes, secrets


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="Routing file (YAML).")],
    env: Annotated[
        bool, typer.Option("--env/--no-env", help="Also check the variables the file names.")
    ] = True,
) -> None:
    """Validate FILE: print its channels (URLs masked) and routes, or every error with its fix."""
    routes, secrets = routes_or_exit(file, with_env=env)
    channels = Table(title="channels")
    for column in ("name", "type", "receiver", "from variables"):
        channels.add_column(column)
    for name, channel in routes.channels.items():
        if isinstance(channel, EmailChannel):
            receiver = f"smtp://{channel.host}:{channel.port} -> {', '.join(channel.to)}"
            names = [v for v in (channel.username_env, channel.password_env) if v]
        else:
            url = secrets[name].url if name in secrets else None
            receiver = "(not read)" if url is None else masked(url.get_secret_value())
            names = [channel.url_env, *([channel.secret_env] if channel.type == "webhook" else [])]
        channels.add_row(name, channel.type, receiver, ", ".join(names) or "-")
    table = Table(title="routes")
    for column in ("#", "rules", "severities", "teams", "reps", "to"):
        table.add_column(column)
    for i, route in enumerate(routes.routes):
        cells = (route.rules, route.severities, route.teams, route.reps)
        table.add_row(str(i), *(", ".join(c) if c else "any" for c in cells), ", ".join(route.to))
    console = Console()
    console.print(channels)
    console.print(table)
    console.print("[green]valid[/green]" + ("" if env else " (variables not checked)"))
