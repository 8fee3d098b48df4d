"""The routing decision: selectors, channels once each, muted rules, quiet hours by zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.outputs import CoachingAlert
from schemas.routes import parse_routes
from scorers.routing import Delivery, deliveries_owed

ROUTES = parse_routes("""\
channels:
  floor: {type: webhook, url_env: A, secret_env: B}
  coach: {type: webhook, url_env: C, secret_env: D}
  mgr-1: {type: slack, url_env: E}
routes:
  - rules: [nps_negative, no_calls]
    severities: [warning]
    to: [floor]
  - teams: [team-1]
    to: [mgr-1, floor]
  - reps: [rep-007]
    severities: [positive]
    to: [coach]
teams:
  team-1:
    timezone: Europe/Berlin
    muted_rules: [score_drop]
    quiet_hours: {start: "20:00", end: "07:30"}
""")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


NOON_UTC = utc(2026, 6, 10, 12, 0)


def alert(**fields: Any) -> CoachingAlert:
    base: dict[str, Any] = {
        "alert_id": "a1", "rule": "no_calls", "kind": "inactivity", "severity": "warning",
        "rep_id": "rep-001", "team_id": "team-2", "window": None, "period": "2026-06-10",
        "as_of": date(2026, 6, 10), "evidence": {}, "text": "t", "raised_at": NOON_UTC,
    }  # fmt: skip
    return CoachingAlert.model_validate(base | fields)


@pytest.mark.parametrize(
    ("fields", "channels"),
    [
        ({}, ["floor"]),  # rule and severity match the first route
        ({"severity": "info"}, []),  # a selector that does not contain the value
        ({"rule": "target_hit", "severity": "positive"}, []),
        ({"team_id": "team-1"}, ["floor", "mgr-1"]),  # floor once, though two routes name it
        ({"team_id": None, "rule": "target_hit", "severity": "positive", "rep_id": "rep-007"},
         ["coach"]),
        ({"team_id": None}, ["floor"]),  # no team: a teams selector never matches
        ({"team_id": "team-1", "rule": "score_drop"}, []),  # muted by the team
    ],
)  # fmt: skip
def test_every_selector_must_contain_the_value(fields: dict[str, Any], channels: list[str]) -> None:
    owed = deliveries_owed(alert(**fields), ROUTES, NOON_UTC)
    assert [d.channel for d in owed] == channels
    assert all(d.not_before is None for d in owed)


@pytest.mark.parametrize(
    ("now", "severity", "not_before"),
    [
        # 21:30 in Berlin (summer, UTC+2): held until 07:30 Berlin tomorrow = 05:30 UTC.
        (utc(2026, 6, 10, 19, 30), "info", utc(2026, 6, 11, 5, 30)),
        # 06:00 Berlin: still quiet, until 07:30 the same morning.
        (utc(2026, 6, 10, 4, 0), "info", utc(2026, 6, 10, 5, 30)),
        # 07:30 Berlin: the end is not quiet any more.
        (utc(2026, 6, 10, 5, 30), "info", None),
        # a warning is urgent: never held.
        (utc(2026, 6, 10, 19, 30), "warning", None),
        # winter (UTC+1): the night of the clock change still ends at 07:30 local.
        (utc(2026, 10, 24, 21, 0), "info", utc(2026, 10, 25, 6, 30)),
    ],
)  # fmt: skip
def test_quiet_hours_hold_non_urgent_alerts_until_the_teams_morning(
    now: datetime, severity: str, not_before: datetime | None
) -> None:
    owed = deliveries_owed(alert(team_id="team-1", severity=severity), ROUTES, now)
    assert owed and all(d == Delivery(d.channel, not_before) for d in owed)


def test_a_digest_channel_gathers_alerts_for_its_local_time() -> None:
    """17:00 in Berlin (UTC+2 in June): an alert at noon UTC waits for 15:00 UTC today, one
    after 15:00 UTC for tomorrow's."""
    routes = parse_routes(
        "channels:\n  daily:\n    type: slack\n    url_env: A\n"
        "    digest: {at: '17:00', timezone: Europe/Berlin}\n"
        "  now: {type: slack, url_env: B}\nroutes:\n  - to: [daily, now]\n"
    )
    owed = deliveries_owed(alert(), routes, NOON_UTC)
    assert owed == [Delivery("daily", utc(2026, 6, 10, 15, 0), True), Delivery("now")]
    late = deliveries_owed(alert(), routes, utc(2026, 6, 10, 15, 0))
    assert late[0] == Delivery("daily", utc(2026, 6, 11, 15, 0), True)
