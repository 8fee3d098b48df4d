"""``scorestream serve``: the live leaderboard pages and the HTTP API (``streams.web``).

It reads Redis only, so any number can run beside the workers. Without
``SCORESTREAM_WEB_TOKEN`` or sign-in (``SCORESTREAM_OIDC_ISSUER``) anyone who reaches
the port reads every scorecard, so a host other than loopback is refused unless
``--allow-anonymous`` says a proxy in front of it (or a private network) decides who
gets in. Behind a TLS proxy, ``--forwarded-allow-ips`` names the proxy whose
``X-Forwarded-Proto``/``-For`` are believed: cookies stay Secure, HSTS is sent, and rate
limits count the real client.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from streams.cli import fail, load_settings
from streams.runtime.stopping import run_server
from streams.web.app import create_app

GRACEFUL_STOP_S = 3
"""Open event streams never end by themselves: Ctrl-C closes them after this long."""
STOP_DEADLINE_S = 10
"""However the stop goes (closing Redis clients included), the process ends by then."""


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
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Believe X-Forwarded-Proto and X-Forwarded-For from --forwarded-allow-ips."
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            help="Comma-separated addresses (or networks) of the TLS proxy in front; '*' any."
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the live leaderboard, rep and team pages and the JSON API (docs at /docs)."""
    settings = load_settings()
    guarded = settings.web_token is not None or settings.oidc_issuer is not None
    if not guarded and not allow_anonymous and not is_loopback(host):
        fail(
            f"--host {host} would show every scorecard to anyone who reaches it:"
            " set SCORESTREAM_WEB_TOKEN (16+ characters) or sign-in (SCORESTREAM_OIDC_ISSUER)"
            " to require a token, bind to 127.0.0.1, or pass --allow-anonymous if a proxy in"
            " front authenticates",
            code=2,
        )
    shown = f"[{host}]" if ":" in host else host
    access = "access by role" if guarded else "no token: open to this host"
    typer.echo(f"serving http://{shown}:{port}/ ({access}; API docs at /docs)", err=True)
    run_server(
        create_app(settings),
        stop_deadline_s=STOP_DEADLINE_S,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,  # no version for a scanner to match
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
