"""``scorestream ingest``: the HTTP gateway CRMs call (``streams.ingest``).

It writes to Kafka only; run as many as the load needs. ``POST /v1/events`` needs an
ingest key, so the command refuses to start without one.
"""

from __future__ import annotations

from typing import Annotated, Final

import typer

from schemas.mapping import MappingError
from streams.cli import fail, load_settings
from streams.ingest.app import create_app
from streams.ingest.hooks import load_hooks
from streams.runtime.gc_tuning import quiet_gc
from streams.runtime.stopping import run_server

MAX_CONCURRENT_REQUESTS: Final = 64
"""Requests in progress at once; past it uvicorn answers 503, so memory stays bounded."""
STOP_DEADLINE_S: Final = 25
"""Requests in progress get 5 s to finish and the producer 10 s to deliver what it holds;
however the stop goes, the process ends by then (what was not answered is sent again)."""


def ingest(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8010,
) -> None:
    """Serve POST /v1/events (our contract) and /v1/hooks/{source} (HubSpot, Salesforce...)."""
    settings = load_settings()
    if not settings.ingest_key_list():
        fail(
            "set SCORESTREAM_INGEST_KEYS (comma-separated, 16+ characters each; e.g. the"
            " output of `python -c 'import secrets; print(secrets.token_urlsafe(24))'`) or"
            " SCORESTREAM_INGEST_KEYS_FILE: POST /v1/events needs a key",
            code=2,
        )
    try:
        hooks, off = load_hooks(settings)
    except MappingError as exc:
        fail(str(exc), code=2)
    shown = f"[{host}]" if ":" in host else host
    served = ", ".join(f"/v1/hooks/{s}" for s in sorted(hooks)) or "no hooks"
    typer.echo(f"ingest on http://{shown}:{port}/: /v1/events, {served} (API docs at /docs)",
               err=True)  # fmt: skip
    for line in off:
        typer.echo(line, err=True)
    app = create_app(settings, hooks)
    # Each request builds hundreds of events that live until Kafka has them: with Python's
    # default thresholds they reach the old generations, whose full collections then walk
    # everything start-up built; that was a third of the gateway's CPU under load.
    quiet_gc()
    run_server(app, host=host, port=port, log_level="warning", stop_deadline_s=STOP_DEADLINE_S,
               limit_concurrency=MAX_CONCURRENT_REQUESTS, timeout_graceful_shutdown=5)  # fmt: skip
