"""``scorestream leaderboard``: reps ranked from Redis, by any perspective, live with --watch.

Balanced means a team can rank by customer or learning & growth as easily as by
revenue, so ``--by`` takes every perspective and KPI. ``--watch`` follows the
change stream (XREAD BLOCK), so the table moves within a second of a deal.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from schemas.kpi_names import Perspective
from sinks.redis_keys import KPI_METRIC
from streams.cli import load_settings, run_read
from streams.views.documents import DEFAULT_LIMIT, leaderboard_document, leaderboard_rows
from streams.views.formatting import plain
from streams.views.rankings import LeaderboardRow
from streams.views.reading import RedisScorecardReader

_WATCH_BLOCK_MS = 1000
"""XREAD waits this long for a change; the board is also re-read on each timeout."""


def leaderboard(
    window: Annotated[str, typer.Option("--window", "-w", help="Window (e.g. 30d, quarter).")] = (
        "30d"
    ),
    by: Annotated[
        str,
        typer.Option(
            help="overall, financial, customer, internal_process, learning_growth or kpi:NAME"
            " (a KPI's value; lower-is-better KPIs rank lowest first)."
        ),
    ] = "overall",
    team: Annotated[str | None, typer.Option(help="Only this team's reps.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = DEFAULT_LIMIT,
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw on every change, until Ctrl-C.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print {"window", "by", "team", "rows"}; with --watch, a line per change.',
        ),
    ] = False,
) -> None:
    """Rank reps by their overall score, a perspective or a KPI, for one window.

    Ties go to the higher uncapped overall (how far past target), then to the rep id.
    """
    settings = load_settings()

    async def read(reader: RedisScorecardReader) -> Board:
        rows = await leaderboard_rows(reader, window, by, team, limit)
        return Board(rows, await reader.definition_in_force())

    def document(board: Board) -> str:
        body = leaderboard_document(window, by, team, board.rows, board.definition_version)
        return orjson.dumps(body).decode()

    console = Console()
    if not watch:
        board = run_read(settings, read)
        if as_json:
            typer.echo(document(board))
        else:
            console.print(_table(board, window, by, team))
        return

    try:
        if as_json:
            run_read(settings, lambda r: _follow_until_signal(r, read, _echo_with(document)))
        else:
            with Live(console=console, auto_refresh=False) as live:

                def redraw(board: Board) -> None:
                    live.update(_table(board, window, by, team, live=True), refresh=True)

                run_read(settings, lambda r: _follow_until_signal(r, read, redraw))
    except KeyboardInterrupt:
        pass  # where the loop cannot handle signals (Windows): still a normal end


@dataclass(frozen=True, slots=True)
class Board:
    """What the command shows: the rows, and the scorecard version in force."""

    rows: list[LeaderboardRow]
    definition_version: int | None


def _echo_with(document: Callable[[Board], str]) -> Callable[[Board], None]:
    return lambda board: typer.echo(document(board))


Read = Callable[[RedisScorecardReader], Awaitable[Board]]
Emit = Callable[[Board], None]


async def _follow_until_signal(reader: RedisScorecardReader, read: Read, emit: Emit) -> None:
    """``_follow`` until Ctrl-C (SIGINT) or SIGTERM, which end it normally: exit 0.

    The signal only sets a flag, checked after each XREAD (so within
    ``_WATCH_BLOCK_MS``); nothing is cancelled. Cancelling the task instead
    (asyncio.run's own Ctrl-C handling) sometimes left --watch running: the
    cancellation of a task blocked in redis-py's XREAD was swallowed and the
    loop went on.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    try:
        await _follow(reader, read, emit, stop)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _follow(
    reader: RedisScorecardReader, read: Read, emit: Emit, stop: asyncio.Event
) -> None:
    """Emit the board, then again whenever it changes, until ``stop`` is set."""
    last_id = await reader.last_change_id()
    shown: Board | None = None
    while not stop.is_set():
        board = await read(reader)
        if board != shown:
            emit(board)
            shown = board
        # Wakes on any written card (or after the timeout, which also catches a
        # trimmed or reset stream); the board is compared, not the entries.
        entries = await reader.changes_after(last_id, block_ms=_WATCH_BLOCK_MS)
        if entries:
            last_id = entries[-1].id


_LABELS = {p.value: p.value.replace("_", " ") for p in Perspective}


def _table(board: Board, window: str, by: str, team: str | None, *, live: bool = False) -> Table:
    rows = board.rows
    scope = f" team {plain(team)}" if team else ""
    hint = " (Ctrl-C to stop)" if live else ""
    version = board.definition_version
    named = "" if version is None else f" · scorecard v{version}"
    table = Table(title=f"Leaderboard {window}{scope} by {by}{named}{hint}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("rep", no_wrap=True)
    table.add_column("team", no_wrap=True)
    ranked_by_other = by != "overall" and by not in _LABELS
    if ranked_by_other:
        table.add_column(by.removeprefix(KPI_METRIC), justify="right", style="bold")
    table.add_column("overall", justify="right", style="bold" if by == "overall" else None)
    for key, label in _LABELS.items():
        table.add_column(label, justify="right", style="bold" if by == key else None)
    for row in rows:
        # CRM ids are anyone's text: as themselves, never markup or terminal controls.
        cells = [str(row.rank), plain(row.rep_id), plain(row.team_id or "-")]
        if ranked_by_other:
            cells.append(_value(row.score))
        cells.append(_score(row.overall))
        cells.extend(_score(row.perspectives.get(key)) for key in _LABELS)
        table.add_row(*cells)
    if not rows:
        table.caption = "no scorecards yet for this window"
    return table


def _score(score: float | None) -> str:
    return "-" if score is None else f"{score:.1f}"


def _value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}".rstrip("0").rstrip(".")
