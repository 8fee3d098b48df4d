"""The KPI catalogue: each KPI's value and sample count over a window's counts.

A value is None when its denominator is 0 ("no data"), never 0 by accident.
``additive`` KPIs are sums of counts: a team's target for them grows with its
number of members; ratios and averages keep one target. The pipeline KPIs read the
window's pipeline counts (``scorers.pipeline``) and the quota still to make.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.kpi_names import KpiName
from scorers import counters as c

Value = Callable[[Sequence[int], float, float | None], float | None]
"""(window counts, quota over the window, quota of the window's calendar period or None for a
rolling window; quotas in reporting currency) -> value."""

Samples = Callable[[Sequence[int]], int]


def coverage(t: Sequence[int], q: float, p: float | None) -> float | None:
    """Open pipeline over the quota still to make: a rolling window's quota; a calendar
    period's quota less the revenue won in it so far (pipeline expected to close in the
    period, or undated). None when nothing is left to make."""
    to_make = q if p is None else p - t[c.REVENUE] / c.MICRO
    return t[c.PERIOD_PIPELINE] / c.MICRO / to_make if to_make > 0 else None


def forecast(t: Sequence[int], p: float | None) -> float | None:
    """(Revenue won in the period + stage-weighted pipeline expected to close in it) over the
    period's quota; calendar periods only."""
    if p is None or p <= 0:
        return None
    return (t[c.REVENUE] + t[c.FORECAST]) / c.MICRO / p


NAMES: dict[str, object] = {
    **{name.upper(): index for index, name in enumerate(c.FIELD_NAMES)},
    "MICRO": c.MICRO,
    "US_PER_DAY": c.US_PER_DAY,
    "coverage": coverage,
    "forecast": forecast,
}
"""What a formula's code may name besides ``t``, ``q`` and ``p``: the counters' indexes,
their units and the two formulas too long for one expression."""


@dataclass(frozen=True, slots=True)
class KpiFormula:
    """A KPI's value and sample count, each written once as a Python expression over ``t``
    (the window's counts), ``q`` (quota over the window) and ``p`` (the period's quota,
    None for a rolling window) with ``NAMES``. Source, not lambdas: ``scorers.scoring``
    inlines it into each definition's scoring function (no call per KPI on the hot path);
    ``value`` and ``samples`` are the same code compiled alone, for everyone else."""

    value_code: str
    samples_code: str
    additive: bool
    deals: bool = False
    """Counted from the rep's deals (won, lost, revenue, cycle), not its day buckets."""
    value: Value = field(init=False, repr=False, compare=False)
    samples: Samples = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: set once here, as a frozen dataclass's own __init__ does.
        object.__setattr__(self, "value", eval(f"lambda t, q, p: {self.value_code}", NAMES))
        object.__setattr__(self, "samples", eval(f"lambda t: {self.samples_code}", NAMES))


def _per_won(amount: str) -> str:
    """An amount per won deal; None with none won."""
    return f"{amount} / t[WON] if t[WON] else None"


FORMULAS: dict[KpiName, KpiFormula] = {
    KpiName.REVENUE_WON: KpiFormula("t[REVENUE] / MICRO", "t[WON]", additive=True, deals=True),
    KpiName.DEALS_WON: KpiFormula("float(t[WON])", "t[WON]", additive=True, deals=True),
    KpiName.AVG_DEAL_SIZE: KpiFormula(
        _per_won("t[REVENUE] / MICRO"), "t[WON]", additive=False, deals=True
    ),
    KpiName.QUOTA_ATTAINMENT: KpiFormula(
        "t[REVENUE] / MICRO / q if q else None", "t[WON]", additive=False, deals=True
    ),
    KpiName.WIN_RATE: KpiFormula(
        "t[WON] / (t[WON] + t[LOST]) if t[WON] + t[LOST] else None",
        "t[WON] + t[LOST]",
        additive=False,
        deals=True,
    ),
    KpiName.SALES_CYCLE_DAYS: KpiFormula(
        _per_won("t[CYCLE_US] / US_PER_DAY"), "t[WON]", additive=False, deals=True
    ),
    KpiName.CALLS_LOGGED: KpiFormula("float(t[CALLS])", "t[CALLS]", additive=True),
    KpiName.CALL_TO_MEETING: KpiFormula(
        "t[MEETINGS] / t[CALLS] if t[CALLS] else None", "t[CALLS]", additive=False
    ),
    KpiName.LEAD_CONVERSION: KpiFormula(
        "t[CONVERTED] / (t[CONVERTED] + t[DISQUALIFIED]) if t[CONVERTED] + t[DISQUALIFIED]"
        " else None",
        "t[CONVERTED] + t[DISQUALIFIED]",
        additive=False,
    ),
    KpiName.NPS: KpiFormula(
        "100 * (t[PROMOTERS] - t[DETRACTORS]) / t[NPS_RESPONSES] if t[NPS_RESPONSES] else None",
        "t[NPS_RESPONSES]",
        additive=False,
    ),
    KpiName.RETENTION_RATE: KpiFormula(
        "t[RENEWED] / (t[RENEWED] + t[CHURNED]) if t[RENEWED] + t[CHURNED] else None",
        "t[RENEWED] + t[CHURNED]",
        additive=False,
    ),
    KpiName.COURSES_COMPLETED: KpiFormula("float(t[COURSES])", "t[COURSES]", additive=True),
    KpiName.TRAINING_HOURS: KpiFormula("t[TRAINING] / MICRO", "t[COURSES]", additive=True),
    KpiName.OPEN_PIPELINE: KpiFormula("t[PIPELINE] / MICRO", "t[OPEN_DEALS]", additive=True),
    KpiName.PIPELINE_COVERAGE: KpiFormula("coverage(t, q, p)", "t[PERIOD_DEALS]", additive=False),
    KpiName.FORECAST_ATTAINMENT: KpiFormula(
        "forecast(t, p)", "t[WON] + t[PERIOD_DEALS]", additive=False
    ),
}
