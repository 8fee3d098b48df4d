"""``scorestream replay``: score a JSONL event log with no Kafka and no Redis."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from scorers.calendar import to_date
from scorers.replay import Replay, ReplayResult
from scorers.scoring import Scorecard
from streams.cli import day_or_exit, definition_or_exit, window_or_exit
from streams.runtime.gc_tuning import quiet_gc
from streams.views.formatting import plain

_PROGRESS_MIN_BYTES = 5_000_000


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def replay(
    file: Annotated[Path, typer.Argument(help="JSONL event log, one CRM event per line.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score as of this day (YYYY-MM-DD); default: latest event."),
    ] = None,
    scorecard: Annotated[
        Path | None, typer.Option(help="Scorecard definition (YAML); default: the shipped one.")
    ] = None,
    window: Annotated[
        list[str] | None, typer.Option("--window", "-w", help="Window to show; repeatable.")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.TABLE
    ),
) -> None:
    """Score an event log in memory: leaderboards per window, or the full JSON."""
    definition = definition_or_exit(scorecard)
    windows = [window_or_exit("--window", w) for w in window or definition.windows]
    as_of_date = day_or_exit("--as-of", as_of)
    try:
        handle = file.open("rb")
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    quiet_gc()
    engine = Replay(definition, as_of_date)
    with handle:
        for line_no, line in lines_with_progress(handle, file.stat().st_size):
            if line.strip():
                engine.feed(line_no, line)
    result = engine.result(windows)
    if fmt is OutputFormat.JSON:
        sys.stdout.buffer.write(orjson.dumps(result.to_json_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
    else:
        _print_tables(result, windows)


def lines_with_progress(handle: BinaryIO, size: int) -> Iterator[tuple[int, bytes]]:
    lines = enumerate(handle, start=1)
    if size < _PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield from lines
        return
    columns = (
        TextColumn("replay"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replay", total=size)
        done = 0
        for line_no, line in lines:
            done += len(line)
            if line_no % 20_000 == 0:
                progress.update(task, completed=done)
            yield line_no, line


def _fmt(score: float | None) -> str:
    return "-" if score is None else f"{score:.1f}"


def _print_tables(result: ReplayResult, windows: list[str]) -> None:
    out = Console()
    err = Console(stderr=True)
    if result.as_of is None:
        err.print("no valid events: nothing to score")
    else:
        as_of = to_date(result.as_of).isoformat()
        for window in windows:
            reps = [s for s in result.scorecards if s.window == window]
            out.print(_leaderboard(f"Leaderboard {window} as of {as_of}", reps, result))
            teams = [s for s in result.teams if s.window == window]
            if teams:
                out.print(_leaderboard(f"Teams {window} as of {as_of}", teams, result))
    err.print(
        f"{len(result.rejected)} rejected, {result.duplicates} duplicates,"
        f" {result.out_of_range} out of range"
    )
    for rejected in result.rejected[:20]:
        line, reason = rejected.message.offset, rejected.reason.value
        err.print(f"  line {line}: {reason}: {rejected.detail}", markup=False)
    if len(result.rejected) > 20:
        err.print(f"  ... and {len(result.rejected) - 20} more (--format json lists all)")


def _leaderboard(title: str, cards: list[Scorecard], result: ReplayResult) -> Table:
    table = Table(title=title, title_justify="left")
    is_team = bool(cards) and cards[0].rep_id is None
    table.add_column("#", justify="right")
    for name in ["team"] if is_team else ["rep", "team"]:
        table.add_column(name)
    table.add_column("overall", justify="right")
    perspectives = list(cards[0].perspectives) if cards else []
    for p in perspectives:
        table.add_column(p.replace("_", " "), justify="right")
    table.add_column("top movers since the day before")
    for rank, card in enumerate(cards, start=1):
        moved = result.changes.get((card.rep_id, card.team_id, card.window))
        movers = ", ".join(f"{k} {d:+.1f}" for k, d in moved.top_movers()) if moved else ""
        who = [plain(card.team_id or "-")]
        if not is_team:
            who.insert(0, plain(card.rep_id or "-"))
        table.add_row(
            str(rank),
            *who,
            _fmt(card.overall),
            *(_fmt(card.perspectives[p]) for p in perspectives),
            movers or "-",
        )
    return table
