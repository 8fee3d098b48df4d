"""``scorestream worker``: run the stream processor until stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import structlog
import typer

from schemas import topics
from schemas.definition_version import digest_of
from schemas.scorecard_definition import ScorecardDefinition
from schemas.settings import Settings
from scorers.clock import ClockMode
from sinks.exceptions import RedisUnavailableError
from streams.admin.definitions_topic import Read, publish, read_versions
from streams.admin.topic_admin import COMPACTED, TopicSpec, ensure_internal_topics, wait_for_topics
from streams.cli import definition_or_exit, fail, load_settings, publisher
from streams.runtime import connections
from streams.runtime.exceptions import StreamsError
from streams.runtime.gc_tuning import quiet_gc

log = structlog.get_logger()


def preflight(settings: Settings, app_id: str, tables: Iterable[str]) -> None:
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
        wait_for_topics(settings, (*topics.CRM_INPUTS, topics.DEFINITIONS))
        n = settings.partitions
        ensure_internal_topics(settings, [
            TopicSpec(topics.team_updates(app_id), n),
            *(TopicSpec(topics.changelog(app_id, t), n, COMPACTED) for t in tables),
        ])  # fmt: skip
    except StreamsError as exc:
        fail(str(exc), code=2)


def versions_at_start(
    settings: Settings, definition: ScorecardDefinition, scorecard: Path | None
) -> Read:
    """The definitions topic as the worker starts: the versions there win; an empty topic is
    seeded with ``definition`` (read from ``scorecard``, or the default) as version 1."""
    source = "the shipped default" if scorecard is None else str(scorecard)
    try:
        read = read_versions(settings)
        if not read.versions.published:
            seeded = publish(
                settings, definition, note=f"seeded by the worker from {source}",
                published_by=publisher(None), only_if_empty=True,
            )  # fmt: skip
            read = read_versions(settings)
            if seeded.version is not None:
                log.info("definition_seeded", version=seeded.version, source=source)
    except StreamsError as exc:
        fail(str(exc), code=2)
    in_force = read.versions.in_force
    if in_force is None:
        fail(
            f"no version on {topics.DEFINITIONS} can be read by this worker"
            f" ({'; '.join(read.versions.unreadable)}); publish one with"
            " `scorestream scorecard publish FILE`",
            code=2,
        )
    for problem in read.versions.unreadable:
        log.error("definition_unreadable", reason=problem)
    bound = log.bind(version=in_force.version, digest=in_force.digest[:12], note=in_force.note)
    if scorecard is not None and in_force.digest != digest_of(definition):
        bound.warning(
            "definition_from_topic", not_used=str(scorecard),
            why=f"{topics.DEFINITIONS} has versions: they win over --scorecard",
            fix="publish the file with `scorestream scorecard publish FILE`",
        )  # fmt: skip
    else:
        bound.info("definition_from_topic", versions=len(read.versions.published))
    return read


def worker(
    clock: Annotated[
        ClockMode,
        typer.Option(help="wall: as-of is today; event: a watermark of the event days read."),
    ] = ClockMode.WALL,
    data_dir: Annotated[
        Path, typer.Option(help="Local state (RocksDB); rebuilt from the changelog if empty.")
    ] = Path(".local/worker"),
    scorecard: Annotated[
        Path | None,
        typer.Option(
            help="Scorecard definition (YAML) published as version 1 when"
            f" {topics.DEFINITIONS} is empty (default: the shipped one); when the topic has"
            " versions they win."
        ),
    ] = None,
    web_port: Annotated[int, typer.Option(help="Port of /health and /metrics.")] = 6066,
    web_host: Annotated[
        str, typer.Option(help="Address of /health and /metrics (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    app_id: Annotated[
        str, typer.Option(help="Consumer group and prefix of internal topics.")
    ] = topics.named("scorestream"),
) -> None:
    """Consume the crm.* topics and keep every rep's scorecards and the leaderboards in Redis."""
    # faust takes 0.3 s to import: only this command pays for it.
    from streams.worker.app import TABLES, WorkerOptions, create_app, run

    settings = load_settings()
    definition = definition_or_exit(scorecard)
    try:
        # faust makes only the last level, with an unnamed FileNotFoundError at start-up.
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(
            f"--data-dir {data_dir}: {exc.strerror}; give a directory the worker can create", code=2
        )
    preflight(settings, app_id, TABLES)
    versions = versions_at_start(settings, definition, scorecard)
    options = WorkerOptions(
        clock=clock, data_dir=data_dir, web_host=web_host, web_port=web_port, app_id=app_id
    )
    app = create_app(settings, versions, options)
    quiet_gc()
    run(app)
