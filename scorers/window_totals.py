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
        """Totals as of ``as_of``: moved on from the cached day, or built the first time."""
        if self.as_of is None:
            self.rebuild(store, as_of)
        elif self.as_of != as_of:
            self.advance(store, as_of)
        return self.totals

    def advance(self, store: RepStore, as_of: Day) -> None:
        """Move to a later day by adding the days that enter each window and taking out
        the days that leave it, instead of summing every day again."""
        assert self.as_of is not None
        if as_of < self.as_of:
            self.rebuild(store, as_of)
            return
        read: dict[Day, Counters | None] = {}

        def bucket(day: Day) -> Counters | None:
            if day not in read:
                read[day] = store.bucket(day)
            return read[day]

        for window in self.windows:
            old, new = self.spans[window], window_span(window, as_of)
            total = self.totals[window]
            if old.first <= new.first <= old.last + 1:
                leaving, entering = range(old.first, new.first), range(old.last + 1, new.last + 1)
            else:  # a new calendar period, or a jump past the whole window
                total = self.totals[window] = c.zero()
                leaving, entering = range(0), range(new.first, new.last + 1)
            for day in leaving:
                if (b := bucket(day)) is not None:
                    c.add_into(total, b, -1)
            for day in entering:
                if (b := bucket(day)) is not None:
                    c.add_into(total, b)
            self.spans[window] = new
        self.as_of = as_of
