"""Event-time days and the windows built from them.

A day is a proleptic Gregorian ordinal (``date.toordinal()``): an int, so buckets
key and compare cheaply and serialise compactly. A window as of day T is an
inclusive range of such days. Every function is total over the days the contract
accepts (years 1 to 9999): a window reaching before day 1 starts at day 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.events import epoch_us as epoch_us
from schemas.windows import CALENDAR_MONTHS, is_window, rolling_days
from scorers.exceptions import ScoringError

Day = int
"""A date as ``date.toordinal()``."""

FIRST_DAY: Day = date.min.toordinal()
LAST_DAY: Day = date.max.toordinal()

_EPOCH_DAY: Day = date(1970, 1, 1).toordinal()
_US_PER_DAY = 86_400_000_000


def day_of(when: datetime, zone: tzinfo) -> Day:
    """The day an aware timestamp falls on in ``zone``.

    A time within a day of the calendar's ends can fall outside it in another zone
    (0001-01-01T00:30+00:00 is still year 0 in New York): it takes the first or last day.
    """
    if zone is UTC:
        return utc_day_of(epoch_us(when))
    try:
        return when.astimezone(zone).toordinal()
    except OverflowError:
        return FIRST_DAY if when.year == 1 else LAST_DAY


def utc_day_of(us: int) -> Day:
    """The UTC day of an ``epoch_us`` instant."""
    return min(LAST_DAY, max(FIRST_DAY, _EPOCH_DAY + us // _US_PER_DAY))


def zone_of(name: str) -> tzinfo:
    """The zone for a name; UTC is the datetime singleton so ``day_of`` takes its fast path."""
    return UTC if name == "UTC" else ZoneInfo(name)


def to_date(day: Day) -> date:
    return date.fromordinal(day)


def from_date(value: date) -> Day:
    return value.toordinal()


@dataclass(frozen=True, slots=True)
class WindowSpan:
    """The inclusive days a window holds as of a day."""

    first: Day
    last: Day

    @property
    def days(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, int) and self.first <= day <= self.last


# Cached: the rules ask for the same few windows' spans as of the same day for every rep
# scored, and a span costs 2.5-3.5 µs to work out against 0.15 µs to look up.
@lru_cache(maxsize=4096)
def window_span(window: str, as_of: Day) -> WindowSpan:
    """Days of ``window`` as of ``as_of``: rolling ``Nd`` or the calendar period to date."""
    return WindowSpan(_period_start(window, as_of), as_of)


@lru_cache(maxsize=4096)
def period_span(window: str, as_of: Day) -> WindowSpan:
    """The whole period ``window`` names around ``as_of``: a calendar period from its first
    to its last day; a rolling window is its own period."""
    first = _period_start(window, as_of)
    if rolling_days(window) is not None:
        return WindowSpan(first, as_of)
    months = CALENDAR_MONTHS.get(window)
    if months is None:  # a week
        return WindowSpan(first, min(LAST_DAY, first + 6))
    start = date.fromordinal(first)
    month = start.month - 1 + months
    if start.year == date.max.year and month >= 12:
        return WindowSpan(first, LAST_DAY)
    end = date(start.year + month // 12, month % 12 + 1, 1).toordinal() - 1
    return WindowSpan(first, end)


def _period_start(window: str, as_of: Day) -> Day:
    if not is_window(window):
        raise ScoringError(f'window "{window}" is not Nd, week, month or quarter')
    days = rolling_days(window)
    if days is not None:
        return max(FIRST_DAY, as_of - days + 1)
    today = date.fromordinal(as_of)
    if window == "week":
        return max(FIRST_DAY, as_of - today.weekday())
    months = CALENDAR_MONTHS[window]
    return today.replace(month=months * ((today.month - 1) // months) + 1, day=1).toordinal()
