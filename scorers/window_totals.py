"""Each window's totals for one rep, kept current as events land.

A window's counts are the rep's day buckets it holds plus the deltas of the deals
decided on those days. Scoring after every batch must not re-add every day of every
window: totals are built from the state once, moved on day by day when the as-of day
moves, and otherwise updated from the fold's changes. Values, not objects that
change: each step returns new totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scorers import counters as c
from scorers.calendar import Day, WindowSpan, window_span
from scorers.counters import Counters
from scorers.fold import Change
from scorers.state import RepState


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """Counts per window as of ``as_of``, for the state they were built from."""

    as_of: Day
    spans: dict[str, WindowSpan]
    totals: dict[str, tuple[int, ...]]


def day_counts(state: RepState, first: Day, last: Day) -> dict[Day, Counters]:
    """The counts of each day from ``first`` to ``last`` that has any: its bucket plus the
    deals decided on it."""
    days: dict[Day, Counters] = {
        d: list(b.counters) for d, b in state.buckets.items() if first <= d <= last
    }
    for deal in state.deals.values():
        if first <= deal.day <= last and deal.delta:
            c.apply(days.setdefault(deal.day, c.zero()), deal.delta)
    return days


def build(state: RepState, windows: Sequence[str], as_of: Day) -> WindowTotals:
    spans = {w: window_span(w, as_of) for w in windows}
    days = day_counts(state, min(s.first for s in spans.values()), as_of)
    totals = {
        w: tuple(c.summed(counts for d, counts in days.items() if d in span))
        for w, span in spans.items()
    }
    return WindowTotals(as_of, spans, totals)


def moved(totals: WindowTotals, state: RepState, as_of: Day) -> WindowTotals:
    """``totals`` as of a later day: the days entering each window are added and the days
    leaving it taken out, instead of summing every day again."""
    if as_of == totals.as_of:
        return totals
    if as_of < totals.as_of:
        return build(state, list(totals.spans), as_of)
    spans: dict[str, WindowSpan] = {}
    ranges: dict[str, tuple[range, range, bool]] = {}
    for window, old in totals.spans.items():
        new = spans[window] = window_span(window, as_of)
        if old.first <= new.first <= old.last + 1:
            ranges[window] = (range(old.first, new.first), range(old.last + 1, new.last + 1), False)
        else:  # a new calendar period, or a jump past the whole window
            ranges[window] = (range(0), range(new.first, new.last + 1), True)
    first = min(min(r[0].start, r[1].start) if r[0] else r[1].start for r in ranges.values())
    days = day_counts(state, first, as_of)
    out: dict[str, tuple[int, ...]] = {}
    for window, (leaving, entering, fresh) in ranges.items():
        total = c.zero() if fresh else list(totals.totals[window])
        for day in leaving:
            if (counts := days.get(day)) is not None:
                c.add_into(total, counts, -1)
        for day in entering:
            if (counts := days.get(day)) is not None:
                c.add_into(total, counts)
        out[window] = tuple(total)
    return WindowTotals(as_of, spans, out)


def with_changes(totals: WindowTotals, changes: Iterable[Change]) -> WindowTotals:
    """``totals`` with the fold's changes added to every window that holds their day."""
    moved_totals: dict[str, Counters] = {}
    for change in changes:
        for window, span in totals.spans.items():
            if change.day in span:
                total = moved_totals.get(window)
                if total is None:
                    total = moved_totals[window] = list(totals.totals[window])
                c.apply(total, change.delta, change.sign)
    if not moved_totals:
        return totals
    return WindowTotals(
        totals.as_of,
        totals.spans,
        {**totals.totals, **{w: tuple(t) for w, t in moved_totals.items()}},
    )
