"""``scorestream reset --yes``: back to an empty system, for development."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Annotated

import typer

from schemas import topics
from sinks.exceptions import RedisUnavailableError
from streams.admin.topic_admin import create_topics, delete_consumer_group, delete_project_topics
from streams.cli import fail, load_settings
from streams.runtime import connections
from streams.runtime.exceptions import StreamsError


def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Really delete everything.")] = False,
    data_dir: Annotated[Path, typer.Option(help="The worker's local state.")] = Path(
        ".local/worker"
    ),
    app_id: Annotated[str, typer.Option(help="The worker's consumer group.")] = topics.named(
        "scorestream"
    ),
) -> None:
    """For development: delete topics, consumer group, local state and Redis keys; re-create topics.

    Internal and changelog topics of the worker (<app-id>-*) go too. Refuses without --yes.
    """
    if not yes:
        typer.echo(
            "error: reset deletes every event, scorecard and the worker's state;"
            " run `scorestream reset --yes` to do it",
            err=True,
        )
        raise typer.Exit(2)

    settings = load_settings()
    try:
        # Both servers first: a reset that fails half way leaves a system nobody asked for.
        asyncio.run(connections.check_redis(settings))
        group = delete_consumer_group(settings, app_id)
        deleted = delete_project_topics(settings, app_id)
    except (StreamsError, RedisUnavailableError) as exc:
        fail(str(exc), code=2)
    typer.echo(f"deleted {len(deleted)} topics")
    typer.echo(f"consumer group {app_id}: {'deleted' if group else 'absent'}")
    if data_dir.exists():
        shutil.rmtree(data_dir)
        typer.echo(f"removed {data_dir}")

    async def clear_redis() -> int:
        sink = connections.scorecard_sink(settings)
        try:
            return await sink.delete_all()
        finally:
            await sink.aclose()

    typer.echo(f"deleted {asyncio.run(clear_redis())} Redis keys under {settings.redis_prefix}:")
    report = create_topics(settings, settings.partitions)
    typer.echo(f"created {len(report.created)} topics")
