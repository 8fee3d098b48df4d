"""``scorestream worker``: run the stream processor until stopped."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Annotated, Final

import structlog
import typer

from schemas import topics
from schemas.settings import Settings
from scorers.clock import ClockMode
from sinks.exceptions import RedisUnavailableError
from streams import connections
from streams.cli import definition_or_exit, fail, load_settings
from streams.exceptions import StreamsError
from streams.topic_admin import wait_for_topics

log = structlog.get_logger()

GC_THRESHOLDS: Final = (20_000, 50, 100)
"""Python's default (700, 10, 10) ran a full collection every ~3 s under load, each
holding the event loop for 80-110 ms: most of the worker's p99 latency."""


def quiet_gc() -> None:
    """Collect the old generations far less often, and never scan what start-up built
    (modules, the app): young garbage is still collected as it comes."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def preflight(settings: Settings) -> None:
    """Fail before faust starts when Kafka or Redis refuses us or the topics are missing.

    faust (aiokafka) would retry a wrong password or an untrusted certificate forever, and
    the Redis writer waits through errors; both are set-up mistakes, so they end the command
    with the setting to check. Redis merely down is not: the worker starts and waits for it.
    """
    try:
        asyncio.run(connections.check_redis(settings))
    except RedisUnavailableError as exc:
        log.warning("redis_unavailable_at_start", error=str(exc), fix="the worker waits for it")
    except StreamsError as exc:
        fail(str(exc), code=2)
    try:
        wait_for_topics(settings, topics.CRM_INPUTS)
    except StreamsError as exc:
        fail(str(exc), code=2)


def worker(
    clock: Annotated[
        ClockMode,
        typer.Option(help="wall: as-of is today; event: a watermark of the event days read."),
    ] = ClockMode.WALL,
    data_dir: Annotated[
        Path, typer.Option(help="Local state (RocksDB); rebuilt from the changelog if empty.")
    ] = Path(".local/worker"),
    scorecard: Annotated[
        Path | None, typer.Option(help="Scorecard definition (YAML); default: the shipped one.")
    ] = None,
    web_port: Annotated[int, typer.Option(help="Port of /health and /metrics.")] = 6066,
    web_host: Annotated[
        str, typer.Option(help="Address of /health and /metrics (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    app_id: Annotated[
        str, typer.Option(help="Consumer group and prefix of internal topics.")
    ] = "scorestream",
) -> None:
    """Consume the crm.* topics and keep every rep's scorecards and the leaderboards in Redis."""
    # faust takes 0.3 s to import: only this command pays for it.
    from streams.worker.app import WorkerOptions, create_app, run

    settings = load_settings()
    definition = definition_or_exit(scorecard)
    preflight(settings)
    options = WorkerOptions(
        clock=clock, data_dir=data_dir, web_host=web_host, web_port=web_port, app_id=app_id
    )
    app = create_app(settings, definition, options)
    quiet_gc()
    run(app)
