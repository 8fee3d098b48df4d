"""Event-time days and the windows built from them.

A day is a proleptic Gregorian ordinal (``date.toordinal()``): an int, so buckets
key and compare cheaply and serialise compactly. A window as of day T is an
inclusive range of such days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from scorers.exceptions import ScoringError

Day = int
"""A date as ``date.toordinal()``."""

_EPOCH_DAY: Day = date(1970, 1, 1).toordinal()
_US_PER_DAY = 86_400_000_000
_ROLLING = re.compile(r"^([1-9][0-9]*)d$")


def day_of(when: datetime, zone: tzinfo) -> Day:
    """The day an aware timestamp falls on in ``zone``."""
    if zone is UTC:
        return _EPOCH_DAY + epoch_us(when) // _US_PER_DAY
    return when.astimezone(zone).toordinal()


def epoch_us(when: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding), for ordering and durations."""
    return (when - _EPOCH) // _ONE_US


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


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


def window_span(window: str, as_of: Day) -> WindowSpan:
    """Days of ``window`` as of ``as_of``: rolling ``Nd`` or the calendar period to date."""
    rolling = _ROLLING.match(window)
    if rolling:
        return WindowSpan(as_of - int(rolling.group(1)) + 1, as_of)
    today = date.fromordinal(as_of)
    if window == "week":
        start = as_of - today.weekday()
    elif window == "month":
        start = today.replace(day=1).toordinal()
    elif window == "quarter":
        start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1).toordinal()
    else:
        raise ScoringError(f'window "{window}" is not Nd, week, month or quarter')
    return WindowSpan(start, as_of)


def longest_window_days(windows: list[str]) -> int:
    """The most days any of ``windows`` can ever hold (a quarter holds up to 92)."""
    longest = {"week": 7, "month": 31, "quarter": 92}
    return max(int(m.group(1)) if (m := _ROLLING.match(w)) else longest[w] for w in windows)
