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

from schemas.scorecard_definition import ScorecardDefinition
from schemas.windows import is_calendar
from scorers.calendar import Day, WindowSpan, period_span
from scorers.state import DealState

PipelineCounts = tuple[int, int, int, int, int]
"""(OPEN_DEALS, PIPELINE, PERIOD_DEALS, PERIOD_PIPELINE, FORECAST), in counters' order."""


def open_deals(deals: Iterable[DealState], as_of: Day) -> list[DealState]:
    """The deals open on ``as_of``."""
    return [d for d in deals if d.open and d.day <= as_of]


def pipeline_counts(
    definition: ScorecardDefinition,
    deals: Iterable[DealState],
    windows: Iterable[str],
    as_of: Day,
) -> dict[str, PipelineCounts]:
    """Each window's pipeline counts as of ``as_of`` (its last day)."""
    deals_open = open_deals(deals, as_of)
    count = len(deals_open)
    total = sum(d.amount.value for d in deals_open if d.amount is not None)
    everything: PipelineCounts = (count, total, count, total, 0)
    out: dict[str, PipelineCounts] = {}
    for window in windows:
        if is_calendar(window):
            in_period = _in_period(definition, deals_open, period_span(window, as_of))
            out[window] = (count, total, *in_period)
        else:
            out[window] = everything
    return out


def _in_period(
    definition: ScorecardDefinition, deals: list[DealState], period: WindowSpan
) -> tuple[int, int, int]:
    """(deals, their amounts, forecast) of the open deals expected to close in ``period`` or
    with no expected close; only the former are forecast."""
    first, last = period.first, period.last
    chances, other = definition.stage_probabilities, definition.default_stage_probability
    deals_in, amount_in, forecast = 0, 0, 0
    for deal in deals:
        close = deal.close
        if close is not None and not first <= close.value <= last:
            continue
        deals_in += 1
        if deal.amount is None:
            continue
        amount_in += deal.amount.value
        if close is not None:
            chance = other if deal.stage is None else chances.get(deal.stage.value, other)
            forecast += round(chance * deal.amount.value)
    return deals_in, amount_in, forecast
