"""``scorestream notify``: coaching alerts to Slack, Teams, e-mail and Standard Webhooks.

``notify --routes FILE`` runs the delivery service (``streams.notify``); any number of
instances share the consumer group. ``notify redrive --routes FILE`` sends every parked
alert once: those a receiver refused (after the cause is fixed) and those waiting for a
channel to come back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from schemas.settings import Settings, masked_url
from sinks.exceptions import RedisStoreError, RedisUnavailableError
from sinks.redis_calls import RedisCalls, client_options
from sinks.redis_notify import NotifyStore
from streams.cli import fail, load_settings, notify_listen
from streams.cli.routes import routes_or_exit
from streams.notify.channels import build_lanes
from streams.notify.metrics import NotifyMetrics
from streams.notify.redrive import redrive_all, redrive_forever
from streams.notify.service import GROUP_ID, NotifyService, Start
from streams.notify.web import create_app, serve_in_background
from streams.runtime import connections
from streams.runtime.exceptions import StreamsError

app = typer.Typer(help="Coaching alerts to Slack, Teams, e-mail and Standard Webhooks.")
app.command("listen")(notify_listen.listen)

RoutesOption = Annotated[
    Path, typer.Option("--routes", help="Routing file (YAML); check it with `routes check`.")
]


@app.callback(invoke_without_command=True)
def notify(
    ctx: typer.Context,
    routes: Annotated[Path | None, typer.Option("--routes", help="Routing file (YAML).")] = None,
    host: Annotated[str, typer.Option(help="Address of /healthz and /metrics.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="/healthz and /metrics.")] = 8030,
    group: Annotated[str, typer.Option(help="Kafka consumer group of the service.")] = GROUP_ID,
    start: Annotated[
        str, typer.Option(help="Where a new group starts: earliest (every alert kept) or latest.")
    ] = "earliest",
) -> None:
    """Deliver coaching alerts from scorecards.alerts to the channels the routes name."""
    if ctx.invoked_subcommand is not None:
        return
    if routes is None:
        fail("--routes FILE is required (a routing file; see docs/notify.md)", code=2)
    if start not in ("earliest", "latest"):
        fail(f"--start {start!r}: use earliest or latest", code=2)
    settings = load_settings()
    routing, secrets = routes_or_exit(routes)
    metrics = NotifyMetrics()

    async def main() -> None:
        await connections.check_redis(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        store = _store(settings)
        async with httpx.AsyncClient() as client:
            lanes = build_lanes(routing, secrets, store, metrics, client)
            await store.register_channels(lanes)
            service = NotifyService(settings, routing, lanes, metrics, group_id=group,
                                    start=_start(start))  # fmt: skip
            budget = max(c.retry_for_s + c.timeout_s for c in routing.channels.values())
            health = create_app(metrics, lanes, lambda: service.healthy(budget + 30))
            web = serve_in_background(health, host, port)
            redriver = asyncio.create_task(redrive_forever(lanes, stop))
            try:
                await service.run(stop)
            finally:
                stop.set()
                if web is not None and web.task is not None:
                    web.should_exit = True
                    await asyncio.gather(web.task, return_exceptions=True)
                await asyncio.gather(redriver, return_exceptions=True)
                await store.calls.aclose()

    _run(settings, main())


@app.command()
def redrive(routes: RoutesOption) -> None:
    """Send every parked alert once: refused ones (fix the receiver first) and those waiting
    for a channel that was down. Prints what happened per channel."""
    settings = load_settings()
    routing, secrets = routes_or_exit(routes)

    async def main() -> None:
        await connections.check_redis(settings)
        store = _store(settings)
        try:
            async with httpx.AsyncClient() as client:
                lanes = build_lanes(routing, secrets, store, NotifyMetrics(), client)
                report = await redrive_all(lanes)
        finally:
            await store.calls.aclose()
        for name, outcomes in report.items():
            counted = ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items()))
            typer.echo(f"{name}: {counted or 'nothing parked'}")

    _run(settings, main())


def _store(settings: Settings) -> NotifyStore:
    client = connections.redis_client(settings, **client_options())
    return NotifyStore(RedisCalls(client), settings.redis_prefix)


def _start(text: str) -> Start:
    return "latest" if text == "latest" else "earliest"


def _run(settings: Settings, main: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(main)
    except StreamsError as exc:
        fail(str(exc), code=2)
    except RedisUnavailableError as exc:
        fail(f"{exc}; start it with `make up`", code=2)
    except RedisStoreError as exc:
        fail(f"Redis at {masked_url(settings.redis_url)}: {exc}", code=1)
