"""``scorestream scorecard diff``: what a definition would change, before it is published.

Both definitions score the same event log on the replay engine (``scorers.whatif``): per
rep the overall and rank under each, the change and the perspectives that moved, the
biggest movers up and down, and what changed between the definitions. ``--live`` compares
with the version in force, read from ``scorecards.definitions``.
"""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from schemas.scorecard_definition import ScorecardDefinition
from scorers.whatif import RepShift, WhatIf, what_if
from streams.admin.definitions_topic import read_versions
from streams.cli import day_or_exit, definition_or_exit, fail, load_settings, window_or_exit
from streams.cli.replay import lines_with_progress
from streams.runtime.exceptions import StreamsError
from streams.runtime.gc_tuning import quiet_gc
from streams.views.formatting import plain, score, signed

DEFAULT_WINDOW = "30d"


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def diff(
    files: Annotated[
        list[Path], typer.Argument(help="OLD.yaml NEW.yaml, or only NEW.yaml with --live.")
    ],
    log: Annotated[Path, typer.Option("--log", help="JSONL event log to score both over.")],
    live: Annotated[
        bool, typer.Option("--live", help="OLD is the version in force (scorecards.definitions).")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score as of this day (YYYY-MM-DD); default: latest event."),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            "-w",
            help="Window to compare [default: 30d, else NEW's first that OLD has].",
        ),
    ] = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", help="table or json.")] = (
        DiffFormat.TABLE
    ),
    movers: Annotated[int, typer.Option(min=1, help="Movers to list each way.")] = 5,
) -> None:
    """Score an event log under OLD and NEW: who moves, by how much, and why."""
    old, new, old_name = _definitions(files, live)
    day = day_or_exit("--as-of", as_of)
    shown = window_or_exit("--window", window or _default_window(old, new))
    try:
        handle = log.open("rb")
    except OSError as exc:
        fail(f"cannot read {log}: {exc.strerror}", code=2)
    quiet_gc()
    started = time.perf_counter()
    with handle:
        lines = (line for _, line in lines_with_progress(handle, log.stat().st_size))
        result = what_if(old, new, lines, window=shown, as_of=day)
    elapsed_s = time.perf_counter() - started
    if fmt is DiffFormat.JSON:
        body = {"old": old_name, "new": str(files[-1]), **result.to_dict(movers)}
        body["elapsed_s"] = round(elapsed_s, 3)
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return
    _print(result, old_name, str(files[-1]), movers)
    Console().print(
        f"scored {log} under both in {elapsed_s:.2f} s"
        f" ({'folded once' if result.folds == 1 else 'replayed under each'};"
        f" lines rejected: {result.rejected[0]})",
        highlight=False,
    )


def _definitions(
    files: list[Path], live: bool
) -> tuple[ScorecardDefinition, ScorecardDefinition, str]:
    """OLD, NEW and how to name OLD."""
    if live:
        if len(files) != 1:
            fail("with --live give only NEW.yaml (OLD is the version in force)", code=2)
        new = definition_or_exit(files[0])
        try:
            in_force = read_versions(load_settings()).versions.in_force
        except StreamsError as exc:
            fail(str(exc), code=2)
        if in_force is None:
            fail("--live: no version in force yet on scorecards.definitions", code=1)
        return in_force.definition, new, f"version {in_force.version} (in force)"
    if len(files) != 2:
        fail("give OLD.yaml and NEW.yaml (or NEW.yaml with --live)", code=2)
    return definition_or_exit(files[0]), definition_or_exit(files[1]), str(files[0])


def _default_window(old: ScorecardDefinition, new: ScorecardDefinition) -> str:
    """The leaderboard's default (30d) when both have it, else NEW's first that OLD has."""
    both = [w for w in new.windows if w in old.windows]
    return DEFAULT_WINDOW if DEFAULT_WINDOW in both else (both or new.windows)[0]


def _print(result: WhatIf, old_name: str, new_name: str, count: int) -> None:
    console = Console()
    console.print(f"[bold]What changed[/bold] from {old_name} to {new_name}:", highlight=False)
    for change in result.changes or []:
        console.print(f"  {change.text()}", highlight=False)
    if not result.changes:
        console.print("  nothing: the definitions score alike")
    if result.as_of is None:
        console.print("no valid events in the log: nothing to score")
        return
    moved = sum(1 for r in result.reps if r.places)
    as_of = result.to_dict()["as_of"]
    table = Table(
        title=f"Window {result.window} as of {as_of}: {len(result.reps)} reps,"
        f" {moved} change place",
        title_justify="left",
    )
    for column in ("#", "was", "moved", "rep", "team", "old", "new", "change"):
        if column in ("rep", "team"):
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    table.add_column("perspectives moved")
    for rep in result.reps:
        table.add_row(
            _rank(rep.new_rank), _rank(rep.old_rank), _places(rep), plain(rep.rep_id),
            plain(rep.team_id or "-"), score(rep.old), score(rep.new), signed(rep.change),
            ", ".join(
                f"{_SHORT.get(name, name)} {signed(moved)}"
                for name, moved in rep.perspective_changes().items()
            ) or "-",
        )  # fmt: skip
    console.print(table)
    for up, label in ((True, "up"), (False, "down")):
        movers = result.movers(up=up, count=count)
        listed = ", ".join(
            f"{plain(r.rep_id)} ({_places(r).plain} place{'s' * (abs(r.places or 0) > 1)},"
            f" {signed(r.change)})"
            for r in movers
        )
        console.print(f"[bold]Biggest movers {label}:[/bold] {listed or 'none'}", highlight=False)


_SHORT = {"internal_process": "process", "learning_growth": "learning"}
"""Perspective names short enough for a table cell."""


def _rank(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _places(rep: RepShift) -> Text:
    places = rep.places
    if not places:
        return Text("-" if places is None else "=")
    return Text(f"{places:+d}", style="green" if places > 0 else "red")
