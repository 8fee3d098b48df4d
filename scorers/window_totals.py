"""Each window's totals for one rep, kept current as events land.

Scoring after every event must not re-add every bucket of every window: totals are
rebuilt from the day buckets only when the as-of day moves (or on a cold start) and
otherwise updated from the fold's bucket changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scorers import counters as c
from scorers.calendar import Day, WindowSpan, window_span
from scorers.counters import Counters
from scorers.fold import Change
from scorers.state import RepStore


class WindowTotals:
    """Totals per window as of ``as_of``; valid only for the state they were built from."""

    __slots__ = ("as_of", "spans", "totals", "windows")

    def __init__(self, windows: Sequence[str]) -> None:
        self.windows = list(windows)
        self.as_of: Day | None = None
        self.spans: dict[str, WindowSpan] = {}
        self.totals: dict[str, Counters] = {}

    def rebuild(self, store: RepStore, as_of: Day) -> None:
        """Sum the buckets once per day of the union of windows, then per window."""
        self.as_of = as_of
        self.spans = {w: window_span(w, as_of) for w in self.windows}
        first = min(span.first for span in self.spans.values())
        days = {d: b for d in range(first, as_of + 1) if (b := store.bucket(d)) is not None}
        self.totals = {
            w: c.summed(b for d, b in days.items() if d in span) for w, span in self.spans.items()
        }

    def apply(self, changes: Iterable[Change]) -> None:
        """Add the fold's bucket changes to every window that holds their day."""
        for change in changes:
            for window, span in self.spans.items():
                if change.day in span:
                    c.apply(self.totals[window], change.delta, change.sign)

    def current(self, store: RepStore, as_of: Day) -> dict[str, Counters]:
        """Totals as of ``as_of``, rebuilt only if the day moved since the last call."""
        if self.as_of != as_of:
            self.rebuild(store, as_of)
        return self.totals
