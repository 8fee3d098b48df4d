"""Window names, spelled once: rolling ``Nd`` (N days, 1..999) or a calendar period to date.

The scorecard definition validates names with ``WINDOW_PATTERN``; the calendar, the
CLI and the readers ask this module what a name means.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import Field

WINDOW_PATTERN: Final = r"^(?:[1-9][0-9]{0,2}d|week|month|quarter)$"
"""``Nd`` (rolling N days, 1..999) or ``week`` / ``month`` / ``quarter`` (calendar, to date)."""

WindowName = Annotated[str, Field(pattern=WINDOW_PATTERN)]
"""A window name as a definition's models validate it."""

CALENDAR_MONTHS: Final = {"month": 1, "quarter": 3}
"""Months in a calendar period of whole months (a week is 7 days, ISO, Monday first)."""

MOST_DAYS: Final = {"week": 7, "month": 31, "quarter": 92}
"""The most days a calendar period can hold."""

_WINDOW = re.compile(WINDOW_PATTERN)


def is_window(name: str) -> bool:
    return _WINDOW.match(name) is not None


def rolling_days(window: str) -> int | None:
    """N for a rolling ``Nd`` window; None for a calendar one."""
    return int(window[:-1]) if window.endswith("d") else None


def is_calendar(window: str) -> bool:
    return window in MOST_DAYS


def most_days(window: str) -> int:
    """The most days ``window`` can ever hold (a quarter holds up to 92)."""
    days = rolling_days(window)
    return MOST_DAYS[window] if days is None else days


def window_order(window: str) -> tuple[int, int]:
    """Shortest window first, a rolling one before a calendar one of the same length."""
    return (most_days(window), 1 if is_calendar(window) else 0)
