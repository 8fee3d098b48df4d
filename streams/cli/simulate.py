"""``scorestream simulate``: play a sales org's CRM events into Kafka or a JSONL file.

Two modes: ``--days D`` backfills D days of history as fast as possible;
``--rate N`` streams live events (event time = now) at N per second. Generation is
in ``streams.sources.simulator``, sending in ``streams.sources.publishing``; this is wiring.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from schemas.events import Event
from streams.cli import load_settings
from streams.cli.progress import PublishProgress
from streams.runtime.exceptions import StreamsError
from streams.sources.event_stats import EventStats
from streams.sources.malformed import inject_malformed
from streams.sources.org import MAX_REPS_PER_TEAM, SimulationConfig
from streams.sources.publishing import Item, ProgressCallback, PublishResult, open_sink, publish
from streams.sources.simulator import Simulator

T = TypeVar("T")


def parse_end(text: str) -> datetime:
    """``--end``: a date (midnight UTC) or an ISO datetime; no offset means UTC."""
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date or ISO datetime, e.g. 2026-01-31 or 2026-01-31T18:00:00+01:00"
        ) from None
    return end.replace(tzinfo=UTC) if end.tzinfo is None else end


def simulate(
    rate: Annotated[
        float | None,
        typer.Option(help="Live mode: events per second, event time = now, until Ctrl-C."),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Backfill mode: this many days of history."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="Backfill end, a date or ISO datetime (default: now); fixes the output."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write JSON Lines to this file instead of Kafka."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Random seed; same seed and --end give identical events (default: random)."
        ),
    ] = None,
    org_seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the org alone: teams, reps, quotas (default: --seed). Give the"
            " backfill's seed to a live run so it goes on with the same reps in the same teams."
        ),
    ] = None,
    teams: Annotated[int, typer.Option(min=1, max=4, help="Number of teams.")] = 4,
    reps_per_team: Annotated[
        int, typer.Option(min=1, max=MAX_REPS_PER_TEAM, help="Reps in each team.")
    ] = 5,
    limit: Annotated[int | None, typer.Option(min=0, help="Stop after this many messages.")] = None,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds.")
    ] = None,
    duplicate_share: Annotated[
        float, typer.Option(min=0, max=0.5, help="Share of events redelivered (same id).")
    ] = 0.015,
    late_share: Annotated[
        float, typer.Option(min=0, max=0.5, help="Share of events delivered late.")
    ] = 0.015,
    malformed_share: Annotated[
        float,
        typer.Option(min=0, max=0.5, help="Add a malformed message after this share of events."),
    ] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout at the end.")
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Live progress on stderr.")
    ] = True,
) -> None:
    """Simulate a sales org's CRM events: --days D backfills history, --rate N streams live."""
    if (rate is None) == (days is None):
        raise typer.BadParameter("give exactly one of --rate (live) or --days (backfill)")
    if rate is not None and rate <= 0:
        raise typer.BadParameter("--rate must be > 0")
    if end is not None and days is None:
        raise typer.BadParameter("--end only applies to --days")

    settings = load_settings()
    seed = secrets.randbelow(2**31) if seed is None else seed
    try:
        config = SimulationConfig(
            seed=seed,
            org_seed=org_seed,
            teams=teams,
            reps_per_team=reps_per_team,
            duplicate_share=duplicate_share,
            late_share=late_share,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    simulator = Simulator(config)

    summary: dict[str, Any] = {
        "seed": seed,
        "org_seed": seed if org_seed is None else org_seed,
        "teams": teams,
        "reps": len(simulator.reps),
    }
    events: Iterable[Event]
    start_at: datetime | None = None
    if days is not None:
        end_at = parse_end(end) if end is not None else datetime.now(UTC).replace(microsecond=0)
        start_at = end_at - timedelta(days=days)
        events = simulator.backfill(days, end_at)
        summary |= {"mode": "backfill", "start": start_at.isoformat(), "end": end_at.isoformat()}
        view = PublishProgress(f"backfill {days}d", days * 86_400.0, enabled=progress)
    else:
        assert rate is not None
        events = simulator.live(rate, clock=lambda: datetime.now(UTC), sleep=time.sleep)
        summary |= {"mode": "live", "rate": rate}
        view = PublishProgress(f"live {rate:g}/s", None, enabled=progress)

    items = _bounded(
        inject_malformed(events, malformed_share, random.Random(f"{seed}:malformed")),
        limit,
        duration,
    )
    try:
        sink = open_sink(out, settings, client_id="scorestream-simulator")
    except (StreamsError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    with view:
        result = publish(items, sink, on_progress=_progress_callback(view, start_at))
    _report(result, summary, as_json)


def _progress_callback(view: PublishProgress, start: datetime | None) -> ProgressCallback:
    """Backfill advances by event time since ``start``; live mode by message count."""

    def on_progress(stats: EventStats, _: Item) -> None:
        if start is None or stats.latest_occurred_at is None:
            view.update(stats.total, stats)
        else:
            view.update((stats.latest_occurred_at - start).total_seconds(), stats)

    return on_progress


def _bounded(items: Iterable[T], limit: int | None, duration: float | None) -> Iterator[T]:
    """``items`` cut at ``limit`` messages and ``duration`` wall-clock seconds."""
    bounded = iter(items) if limit is None else itertools.islice(items, limit)
    if duration is None:
        return bounded
    deadline = time.monotonic() + duration
    return itertools.takewhile(lambda _: time.monotonic() < deadline, bounded)


def _report(result: PublishResult, summary: dict[str, Any], as_json: bool) -> None:
    payload = {**summary, **result.to_dict()}
    if as_json:
        typer.echo(json.dumps(payload, separators=(",", ":")))
    else:
        Console().print(_summary_table(payload))
    if not result.ok:
        assert result.delivery is not None
        typer.echo(
            f"error: {result.delivery.failed + result.delivery.undelivered} messages "
            f"not delivered: {result.delivery.errors[:1]}",
            err=True,
        )
        raise typer.Exit(1)


def _summary_table(payload: dict[str, Any]) -> Table:
    table = Table(title=f"simulate ({payload['mode']}, seed {payload['seed']})")
    table.add_column("event type")
    table.add_column("count", justify="right")
    for event_type, count in payload["per_event_type"].items():
        table.add_row(event_type, f"{count:,}")
    table.add_section()
    for key in ("events", "duplicates", "late", "malformed"):
        table.add_row(key, f"{payload[key]:,}")
    table.add_row("destination", json.dumps(payload["destination"]))
    return table
