"""The per-day counts every KPI is computed from.

Counts are integers — money and hours in millionths, durations in microseconds —
so adding and taking back contributions is exact and the result does not depend on
the order events arrive in (floats would drift by a few ulps).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

Counters = list[int]
"""One day's (or one window's) counts, indexed by the constants below."""

Delta = tuple[tuple[int, int], ...]
"""A sparse change to Counters: (index, amount) pairs."""

MICRO: Final = 1_000_000
US_PER_DAY: Final = 86_400 * MICRO

WON: Final = 0
LOST: Final = 1
REVENUE: Final = 2  # reporting currency, millionths
CYCLE_US: Final = 3  # sum over won deals of occurred_at - opened_at
CALLS: Final = 4
MEETINGS: Final = 5
CONVERTED: Final = 6
DISQUALIFIED: Final = 7
NPS_RESPONSES: Final = 8
PROMOTERS: Final = 9
DETRACTORS: Final = 10
RENEWED: Final = 11
CHURNED: Final = 12
COURSES: Final = 13
TRAINING: Final = 14  # hours, millionths
EVENTS: Final = 15  # unique events of the day, whatever their kind (activity, out-of-range counts)
WIDTH: Final = 16
"""Counts of a day bucket, and of a window's days."""

# The open pipeline on a window's last day (scorers.pipeline): counts of deals, not of days,
# so never in a bucket; appended to a window's counts when it is scored.
OPEN_DEALS: Final = 16
PIPELINE: Final = 17  # open deals' amounts, reporting currency, millionths
PERIOD_DEALS: Final = 18  # open deals expected to close in the window's period, or undated
PERIOD_PIPELINE: Final = 19  # their amounts
FORECAST: Final = 20  # sum of stage probability x amount of those expected to close in it
INPUT_WIDTH: Final = 21
"""Counts a window is scored from: its days' and its pipeline's."""

FIELD_NAMES: Final = (
    "won", "lost", "revenue", "cycle_us", "calls", "meetings", "converted", "disqualified",
    "nps_responses", "promoters", "detractors", "renewed", "churned", "courses", "training",
    "events", "open_deals", "pipeline", "period_deals", "period_pipeline", "forecast",
)  # fmt: skip


def zero() -> Counters:
    return [0] * WIDTH


def to_micro(value: float) -> int:
    return round(value * MICRO)


def apply(counters: Counters, delta: Delta, sign: int = 1) -> None:
    """Add (sign 1) or take back (sign -1) a delta, in place."""
    for index, amount in delta:
        counters[index] += sign * amount


def add_into(total: Counters, other: Sequence[int], sign: int = 1) -> None:
    """Add (or subtract) ``other`` into ``total`` (as wide), in place."""
    for i in range(len(total)):
        total[i] += sign * other[i]


def summed(rows: Iterable[Sequence[int]], width: int = WIDTH) -> Counters:
    total = [0] * width
    for row in rows:
        add_into(total, row)
    return total
