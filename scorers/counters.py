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

FIELD_NAMES: Final = (
    "won", "lost", "revenue", "cycle_us", "calls", "meetings", "converted", "disqualified",
    "nps_responses", "promoters", "detractors", "renewed", "churned", "courses", "training",
    "events",
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
    """Add (or subtract) a whole Counters into ``total``, in place."""
    for i in range(WIDTH):
        total[i] += sign * other[i]


def summed(rows: Iterable[Sequence[int]]) -> Counters:
    total = zero()
    for row in rows:
        add_into(total, row)
    return total
