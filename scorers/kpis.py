"""The KPI catalogue: each KPI's value and sample count over a window's counts.

A value is None when its denominator is 0 ("no data"), never 0 by accident.
``additive`` KPIs are sums of counts: a team's target for them grows with its
number of members; ratios and averages keep one target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.scorecard_definition import KpiName
from scorers import counters as c


@dataclass(frozen=True, slots=True)
class KpiFormula:
    value: Callable[[Sequence[int], float], float | None]
    """(window counts, quota over the window in reporting currency) -> value."""
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


FORMULAS: dict[KpiName, KpiFormula] = {
    KpiName.REVENUE_WON: KpiFormula(
        lambda t, q: t[c.REVENUE] / c.MICRO, _won, additive=True, deals=True
    ),
    KpiName.DEALS_WON: KpiFormula(lambda t, q: float(t[c.WON]), _won, additive=True, deals=True),
    KpiName.AVG_DEAL_SIZE: KpiFormula(
        lambda t, q: _ratio(t[c.REVENUE] / c.MICRO, t[c.WON]), _won, additive=False, deals=True
    ),
    KpiName.QUOTA_ATTAINMENT: KpiFormula(
        lambda t, q: _ratio(t[c.REVENUE] / c.MICRO, q), _won, additive=False, deals=True
    ),
    KpiName.WIN_RATE: KpiFormula(
        lambda t, q: _ratio(t[c.WON], _decided(t)), _decided, additive=False, deals=True
    ),
    KpiName.SALES_CYCLE_DAYS: KpiFormula(
        lambda t, q: _ratio(t[c.CYCLE_US] / c.US_PER_DAY, t[c.WON]),
        _won,
        additive=False,
        deals=True,
    ),
    KpiName.CALLS_LOGGED: KpiFormula(lambda t, q: float(t[c.CALLS]), _calls, additive=True),
    KpiName.CALL_TO_MEETING: KpiFormula(
        lambda t, q: _ratio(t[c.MEETINGS], t[c.CALLS]), _calls, additive=False
    ),
    KpiName.LEAD_CONVERSION: KpiFormula(
        lambda t, q: _ratio(t[c.CONVERTED], _leads(t)), _leads, additive=False
    ),
    KpiName.NPS: KpiFormula(
        lambda t, q: _ratio(100 * (t[c.PROMOTERS] - t[c.DETRACTORS]), t[c.NPS_RESPONSES]),
        _nps,
        additive=False,
    ),
    KpiName.RETENTION_RATE: KpiFormula(
        lambda t, q: _ratio(t[c.RENEWED], _accounts(t)), _accounts, additive=False
    ),
    KpiName.COURSES_COMPLETED: KpiFormula(
        lambda t, q: float(t[c.COURSES]), _courses, additive=True
    ),
    KpiName.TRAINING_HOURS: KpiFormula(
        lambda t, q: t[c.TRAINING] / c.MICRO, _courses, additive=True
    ),
}
