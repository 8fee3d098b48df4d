"""The open pipeline on a window's last day: the point-in-time counts of the pipeline KPIs.

Activity KPIs sum a window's days; a pipeline is no sum over days but the rep's deals
open on the window's last day, read from the rep's deals (``RepState.deals``, kept in
memory) when the rep is scored. A deal is open as of T when its deciding event is an
opening, a stage change or a reopening on T or before. (A deal decided after T counts
for no day before its deciding event: only the latest deciding event is kept, as for
won deals.) Its amount is the latest one an event carried, already in the reporting
currency, so every count here is an integer sum: exact, whatever the order of the deals.

Per window, appended to its day counts (``scorers.counters``): the open deals and their
amounts; those expected to close in the window's calendar period (or with no expected
close), with the sum of stage probability x amount of the ones expected to close in it.
A rolling window is its own period: every open deal counts, none is forecast.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from schemas.scorecard_definition import ScorecardDefinition
from schemas.windows import is_calendar
from scorers.calendar import Day, WindowSpan, period_span
from scorers.state import OPEN_KINDS, DealState

PipelineCounts = tuple[int, int, int, int, int]
"""(OPEN_DEALS, PIPELINE, PERIOD_DEALS, PERIOD_PIPELINE, FORECAST), in counters' order."""

_period_span = lru_cache(maxsize=64)(period_span)
"""Every rep's calendar windows fall in the same few periods: a period's ends are worked
out once per (window, day), not per rep (bounded: a few windows x the days in play)."""


def in_pipeline(deals: Iterable[DealState]) -> list[DealState]:
    """The deals open as of their day (and after); those open on a day T are these with a
    day up to T. (``DealState.open``'s test, without a call per deal: a rep has dozens.)"""
    return [d for d in deals if d.kind in OPEN_KINDS]


def pipeline_counts(
    definition: ScorecardDefinition,
    deals: Iterable[DealState],
    windows: Iterable[str],
    as_of: Day,
) -> dict[str, PipelineCounts]:
    """Each window's pipeline counts as of ``as_of`` (its last day), from the rep's deals
    ``in_pipeline`` (of any day: those after ``as_of`` are left out)."""
    deals_open = [d for d in deals if d.day <= as_of]
    total = 0
    for deal in deals_open:
        if deal.amount is not None:
            total += deal.amount.value
    count = len(deals_open)
    out: dict[str, PipelineCounts] = dict.fromkeys(windows, (count, total, count, total, 0))
    rows: list[tuple[Day | None, int | None, int]] | None = None
    for window in out:
        if is_calendar(window):
            if rows is None:
                rows = _rows(definition, deals_open)
            out[window] = (count, total, *_in_period(rows, _period_span(window, as_of)))
    return out


def _rows(
    definition: ScorecardDefinition, deals: list[DealState]
) -> list[tuple[Day | None, int | None, int]]:
    """Per open deal, what a period needs of it, worked out once for all the periods: its
    expected close, its amount and its forecast (stage probability x amount, rounded; 0
    without an expected close, as it is then forecast in no period)."""
    chances, other = definition.stage_probabilities, definition.default_stage_probability
    rows: list[tuple[Day | None, int | None, int]] = []
    for deal in deals:
        close = None if deal.close is None else deal.close.value
        amount = None if deal.amount is None else deal.amount.value
        expected = 0
        if close is not None and amount is not None:
            chance = other if deal.stage is None else chances.get(deal.stage.value, other)
            expected = round(chance * amount)
        rows.append((close, amount, expected))
    return rows


def _in_period(
    rows: list[tuple[Day | None, int | None, int]], period: WindowSpan
) -> tuple[int, int, int]:
    """(deals, their amounts, forecast) of the open deals expected to close in ``period`` or
    with no expected close; only the former are forecast. Integer sums: exact in any order."""
    first, last = period.first, period.last
    deals_in, amount_in, forecast = 0, 0, 0
    for close, amount, expected in rows:
        if close is not None and not first <= close <= last:
            continue
        deals_in += 1
        if amount is not None:
            amount_in += amount
            forecast += expected
    return deals_in, amount_in, forecast
