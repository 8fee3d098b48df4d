"""Live progress of a publishing command on stderr: a bar (or a counter) and counts per topic.

On a terminal it redraws in place; elsewhere (docker logs, CI) it stays silent
until the end and a structlog line every ``log_every_s`` says how far it got.
"""

from __future__ import annotations

import time
from types import TracebackType

import structlog
from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from streams.sources.event_stats import EventStats

log = structlog.get_logger(__name__)


class PublishProgress:
    """A context manager; call ``update`` with the position and the running counts.

    ``total`` is in whatever unit the caller advances (event-time seconds for a
    backfill, messages for an import); ``None`` shows a plain counter (live mode).
    """

    def __init__(
        self,
        description: str,
        total: float | None,
        *,
        enabled: bool = True,
        console: Console | None = None,
        log_every_s: float = 10.0,
    ) -> None:
        self._console = console or Console(stderr=True)
        self._enabled = enabled
        self._log_every_s = log_every_s
        self._next_log = time.monotonic() + log_every_s
        columns = (
            [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
             TimeRemainingColumn()]
            if total is not None
            else [SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn()]
        )  # fmt: skip
        self._progress = Progress(*columns, TimeElapsedColumn(), console=self._console)
        self._task = self._progress.add_task(description, total=total)
        self._stats = EventStats()
        self._live = Live(
            self._render(), console=self._console, auto_refresh=False, transient=False
        )

    def __enter__(self) -> PublishProgress:
        if self._enabled:
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._enabled:
            self._live.update(self._render(), refresh=True)
            self._live.stop()

    def update(self, completed: float, stats: EventStats) -> None:
        self._stats = stats
        self._progress.update(self._task, completed=completed)
        if not self._enabled:
            return
        self._live.update(self._render(), refresh=True)
        if not self._console.is_terminal and time.monotonic() >= self._next_log:
            self._next_log = time.monotonic() + self._log_every_s
            log.info("publish.progress", events=stats.total, per_topic=dict(stats.per_topic))

    def _render(self) -> Group:
        table = Table(box=None, show_header=True, pad_edge=False)
        table.add_column("topic")
        table.add_column("messages", justify="right")
        for topic, count in sorted(self._stats.per_topic.items()):
            table.add_row(topic, f"{count:,}")
        stats = self._stats
        faults = f"{stats.duplicates:,} / {stats.late:,} / {stats.malformed:,}"
        table.add_row("[dim]duplicates / late / malformed[/dim]", f"[dim]{faults}[/dim]")
        return Group(self._progress, table)
