"""The KPI catalogue: each KPI's value and sample count over a window's counts.

A value is None when its denominator is 0 ("no data"), never 0 by accident.
``additive`` KPIs are sums of counts: a team's target for them grows with its
number of members; ratios and averages keep one target. The pipeline KPIs read the
window's pipeline counts (``scorers.pipeline``) and the quota still to make.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.kpi_names import KpiName
from scorers import counters as c

Value = Callable[[Sequence[int], float, float | None], float | None]
"""(window counts, quota over the window, quota of the window's calendar period or None for a
rolling window; quotas in reporting currency) -> value."""


@dataclass(frozen=True, slots=True)
class KpiFormula:
    value: Value
    samples: Callable[[Sequence[int]], int]
    additive: bool
    deals: bool = False
    """Counted from the rep's deals (won, lost, revenue, cycle), not its day buckets."""


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _won(t: Sequence[int]) -> int:
    return t[c.WON]


def _decided(t: Sequence[int]) -> int:
    return t[c.WON] + t[c.LOST]


def _calls(t: Sequence[int]) -> int:
    return t[c.CALLS]


def _leads(t: Sequence[int]) -> int:
    return t[c.CONVERTED] + t[c.DISQUALIFIED]


def _nps(t: Sequence[int]) -> int:
    return t[c.NPS_RESPONSES]


def _accounts(t: Sequence[int]) -> int:
    return t[c.RENEWED] + t[c.CHURNED]


def _courses(t: Sequence[int]) -> int:
    return t[c.COURSES]


def _open_deals(t: Sequence[int]) -> int:
    return t[c.OPEN_DEALS]


def _period_deals(t: Sequence[int]) -> int:
    return t[c.PERIOD_DEALS]


def _coverage(t: Sequence[int], quota: float, period_quota: float | None) -> float | None:
    """Open pipeline over the quota still to make: a rolling window's quota; a calendar
    period's quota less the revenue won in it so far (pipeline expected to close in the
    period, or undated). None when nothing is left to make."""
    to_make = quota if period_quota is None else period_quota - t[c.REVENUE] / c.MICRO
    return t[c.PERIOD_PIPELINE] / c.MICRO / to_make if to_make > 0 else None


def _forecast(t: Sequence[int], quota: float, period_quota: float | None) -> float | None:
    """(Revenue won in the period + stage-weighted pipeline expected to close in it) over the
    period's quota; calendar periods only."""
    if period_quota is None or period_quota <= 0:
        return None
    return (t[c.REVENUE] + t[c.FORECAST]) / c.MICRO / period_quota


FORMULAS: dict[KpiName, KpiFormula] = {
    KpiName.REVENUE_WON: KpiFormula(
        lambda t, q, p: t[c.REVENUE] / c.MICRO, _won, additive=True, deals=True
    ),
    KpiName.DEALS_WON: KpiFormula(lambda t, q, p: float(t[c.WON]), _won, additive=True, deals=True),
    KpiName.AVG_DEAL_SIZE: KpiFormula(
        lambda t, q, p: _ratio(t[c.REVENUE] / c.MICRO, t[c.WON]), _won, additive=False, deals=True
    ),
    KpiName.QUOTA_ATTAINMENT: KpiFormula(
        lambda t, q, p: _ratio(t[c.REVENUE] / c.MICRO, q), _won, additive=False, deals=True
    ),
    KpiName.WIN_RATE: KpiFormula(
        lambda t, q, p: _ratio(t[c.WON], _decided(t)), _decided, additive=False, deals=True
    ),
    KpiName.SALES_CYCLE_DAYS: KpiFormula(
        lambda t, q, p: _ratio(t[c.CYCLE_US] / c.US_PER_DAY, t[c.WON]),
        _won,
        additive=False,
        deals=True,
    ),
    KpiName.CALLS_LOGGED: KpiFormula(lambda t, q, p: float(t[c.CALLS]), _calls, additive=True),
    KpiName.CALL_TO_MEETING: KpiFormula(
        lambda t, q, p: _ratio(t[c.MEETINGS], t[c.CALLS]), _calls, additive=False
    ),
    KpiName.LEAD_CONVERSION: KpiFormula(
        lambda t, q, p: _ratio(t[c.CONVERTED], _leads(t)), _leads, additive=False
    ),
    KpiName.NPS: KpiFormula(
        lambda t, q, p: _ratio(100 * (t[c.PROMOTERS] - t[c.DETRACTORS]), t[c.NPS_RESPONSES]),
        _nps,
        additive=False,
    ),
    KpiName.RETENTION_RATE: KpiFormula(
        lambda t, q, p: _ratio(t[c.RENEWED], _accounts(t)), _accounts, additive=False
    ),
    KpiName.COURSES_COMPLETED: KpiFormula(
        lambda t, q, p: float(t[c.COURSES]), _courses, additive=True
    ),
    KpiName.TRAINING_HOURS: KpiFormula(
        lambda t, q, p: t[c.TRAINING] / c.MICRO, _courses, additive=True
    ),
    KpiName.OPEN_PIPELINE: KpiFormula(
        lambda t, q, p: t[c.PIPELINE] / c.MICRO, _open_deals, additive=True
    ),
    KpiName.PIPELINE_COVERAGE: KpiFormula(_coverage, _period_deals, additive=False),
    KpiName.FORECAST_ATTAINMENT: KpiFormula(
        _forecast, lambda t: t[c.WON] + t[c.PERIOD_DEALS], additive=False
    ),
}
