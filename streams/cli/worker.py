"""``scorestream worker``: run the stream processor until stopped."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated, Final

import typer

from schemas import topics
from scorers.clock import ClockMode
from streams.cli import definition_or_exit, load_settings
from streams.exceptions import StreamsError
from streams.topic_admin import wait_for_topics

GC_THRESHOLDS: Final = (20_000, 50, 100)
"""Python's default (700, 10, 10) ran a full collection every ~3 s under load, each
holding the event loop for 80-110 ms: most of the worker's p99 latency."""


def quiet_gc() -> None:
    """Collect the old generations far less often, and never scan what start-up built
    (modules, the app): young garbage is still collected as it comes."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def worker(
    clock: Annotated[
        ClockMode, typer.Option(help="wall: as-of is today; event: the latest event day seen.")
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
    try:
        wait_for_topics(settings.kafka_bootstrap, topics.CRM_INPUTS)
    except StreamsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    options = WorkerOptions(
        clock=clock, data_dir=data_dir, web_host=web_host, web_port=web_port, app_id=app_id
    )
    app = create_app(settings, definition, options)
    quiet_gc()
    run(app)
