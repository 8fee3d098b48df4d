"""Days and windows: which days a window holds as of a day, and which day an event falls on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.windows import most_days
from scorers.calendar import FIRST_DAY, LAST_DAY, day_of, period_span, window_span, zone_of
from scorers.exceptions import ScoringError


def d(text: str) -> int:
    return date.fromisoformat(text).toordinal()


@pytest.mark.parametrize(
    ("window", "as_of", "first", "days"),
    [
        ("1d", "2026-03-10", "2026-03-10", 1),
        ("7d", "2026-03-10", "2026-03-04", 7),
        ("30d", "2026-03-10", "2026-02-09", 30),
        ("90d", "2026-03-10", "2025-12-11", 90),
        ("week", "2026-03-09", "2026-03-09", 1),  # a Monday starts its week
        ("week", "2026-03-15", "2026-03-09", 7),  # a Sunday ends it
        ("month", "2026-03-01", "2026-03-01", 1),
        ("month", "2026-02-28", "2026-02-01", 28),
        ("quarter", "2026-05-15", "2026-04-01", 45),
        ("quarter", "2026-12-31", "2026-10-01", 92),
        ("quarter", "2026-01-01", "2026-01-01", 1),
    ],
)
def test_window_span(window: str, as_of: str, first: str, days: int) -> None:
    """Rolling windows hold T-(N-1)..T; calendar windows hold their period up to T."""
    span = window_span(window, d(as_of))
    assert (span.first, span.last, span.days) == (d(first), d(as_of), days)


def test_window_edges_in_and_out() -> None:
    """First and last day are in; the day before the first and the day after T are out."""
    span = window_span("7d", d("2026-03-10"))
    assert d("2026-03-04") in span and d("2026-03-10") in span
    assert d("2026-03-03") not in span and d("2026-03-11") not in span


def test_unknown_window_is_an_error() -> None:
    with pytest.raises(ScoringError, match='window "fortnight"'):
        window_span("fortnight", d("2026-03-10"))


def test_longest_window_days() -> None:
    """The state must keep the longest window any definition may ask for."""
    assert [most_days(w) for w in ("7d", "30d", "week", "month", "quarter")] == [7, 30, 7, 31, 92]


@pytest.mark.parametrize(
    ("occurred_at", "zone", "expected"),
    [
        ("2026-03-01T23:30:00-05:00", "UTC", "2026-03-02"),
        ("2026-03-02T00:30:00+01:00", "UTC", "2026-03-01"),
        ("2026-03-01T23:30:00-05:00", "America/New_York", "2026-03-01"),
        ("2026-03-02T04:30:00+00:00", "America/New_York", "2026-03-01"),
        ("2026-03-28T23:30:00+00:00", "Europe/Berlin", "2026-03-29"),  # DST change day
        ("2026-03-01T00:00:00+00:00", "UTC", "2026-03-01"),
        ("2026-02-28T23:59:59.999999+00:00", "UTC", "2026-02-28"),
    ],
)
def test_day_of_converts_offsets_to_the_scorecard_zone(
    occurred_at: str, zone: str, expected: str
) -> None:
    """An event's day is its occurred_at in the scorecard's zone, whatever offset it carries."""
    assert day_of(datetime.fromisoformat(occurred_at), zone_of(zone)) == d(expected)


def test_utc_fast_path_agrees_with_zoneinfo() -> None:
    """The integer fast path for UTC gives the same day as a zoneinfo conversion."""
    when = datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert zone_of("UTC") is UTC
    assert day_of(when, UTC) == when.date().toordinal()


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.sampled_from([UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo"),
                                   timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
    ),
    zone=st.sampled_from(["UTC", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12"]),
    window=st.sampled_from(["1d", "7d", "999d", "week", "month", "quarter"]),
)  # fmt: skip
def test_every_date_of_the_contract_has_a_day_and_windows(
    when: datetime, zone: str, window: str
) -> None:
    """Years 1 to 9999 in any zone: a day (the ends clamp), a window and a period, no overflow."""
    day = day_of(when, zone_of(zone))
    assert FIRST_DAY <= day <= LAST_DAY
    span = window_span(window, day)
    period = period_span(window, day)
    assert FIRST_DAY <= span.first <= span.last == day
    assert period.first == span.first and span.last <= period.last <= LAST_DAY
