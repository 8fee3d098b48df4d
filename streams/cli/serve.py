"""``scorestream serve``: the live leaderboard pages and the HTTP API (``streams.web``).

It reads Redis only, so any number can run beside the workers. Without
``SCORESTREAM_WEB_TOKEN`` anyone who reaches the port reads every scorecard, so a
host other than loopback is refused unless ``--allow-anonymous`` says a proxy in
front of it (or a private network) decides who gets in.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer
import uvicorn

from streams.cli import fail, load_settings
from streams.web.app import create_app

GRACEFUL_STOP_S = 3
"""Open event streams never end by themselves: Ctrl-C closes them after this long."""


def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless a token is set).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    allow_anonymous: Annotated[
        bool,
        typer.Option(
            "--allow-anonymous",
            help="Serve a non-loopback --host without SCORESTREAM_WEB_TOKEN (something in"
            " front of it must decide who gets in).",
        ),
    ] = False,
) -> None:
    """Serve the live leaderboard, rep and team pages and the JSON API (docs at /docs)."""
    settings = load_settings()
    if settings.web_token is None and not allow_anonymous and not is_loopback(host):
        fail(
            f"--host {host} would show every scorecard to anyone who reaches it:"
            " set SCORESTREAM_WEB_TOKEN (16+ characters) to require a token, bind to"
            " 127.0.0.1, or pass --allow-anonymous if a proxy in front authenticates",
            code=2,
        )
    shown = f"[{host}]" if ":" in host else host
    access = "token required" if settings.web_token is not None else "no token: open to this host"
    typer.echo(f"serving http://{shown}:{port}/ ({access}; API docs at /docs)", err=True)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
