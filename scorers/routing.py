"""Which channels owe an alert a delivery, and when: the routing decision of ``notify``.

Pure: an alert, the routing file and the time in, the deliveries out. The service in
``streams/notify/`` records and sends them; a replayed or redelivered alert gives the same
answer, so the decision never needs to be stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.outputs import CoachingAlert
from schemas.routes import QuietHours, Route, RoutingFile


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert owed to one channel; ``not_before`` (UTC) holds it for quiet hours."""

    channel: str
    not_before: datetime | None = None
    digest: bool = False
    """Gathered into the channel's daily digest, sent at ``not_before``."""


def matches(route: Route, alert: CoachingAlert) -> bool:
    """Every selector the route has contains the alert's value (a missing one matches all)."""
    selectors = (
        (route.rules, alert.rule),
        (route.severities, alert.severity),
        (route.teams, alert.team_id),
        (route.reps, alert.rep_id),
    )
    return all(allowed is None or value in allowed for allowed, value in selectors)


def deliveries_owed(alert: CoachingAlert, routes: RoutingFile, now: datetime) -> list[Delivery]:
    """Each channel of each matching route once, in the file's order; none when the alert's
    team muted its rule; held until the quiet hours end when they apply at ``now``."""
    policy = routes.teams.get(alert.team_id) if alert.team_id is not None else None
    if policy is not None and alert.rule in policy.muted_rules:
        return []
    channels: list[str] = []
    for route in routes.routes:
        if matches(route, alert):
            channels += [name for name in route.to if name not in channels]
    not_before = None
    quiet = None if policy is None else policy.quiet_hours
    if policy is not None and quiet is not None and alert.severity in quiet.hold:
        not_before = quiet_until(quiet, ZoneInfo(policy.timezone), now)
    owed = []
    for name in channels:
        digest = routes.channels[name].digest
        if digest is None:
            owed.append(Delivery(name, not_before))
        else:
            owed.append(Delivery(name, next_at(digest.at, ZoneInfo(digest.timezone), now), True))
    return owed


def next_at(at: time, zone: ZoneInfo, now: datetime) -> datetime:
    """The first ``at`` (wall-clock time in ``zone``) after ``now``, in ``now``'s zone."""
    local = now.astimezone(zone)
    when = datetime.combine(local.date(), at, tzinfo=zone)
    if when <= local:
        when = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return when.astimezone(now.tzinfo)


def quiet_until(quiet: QuietHours, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the quiet hours around ``now`` end (in ``now``'s zone), or None outside them.

    Quiet hours may span midnight (22:00-07:00). The end is a wall-clock time in the team's
    zone, so a night that changes to or from summer time still ends at 07:00 local.
    """
    local = now.astimezone(zone)
    at = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= at < quiet.end
    else:
        inside = at >= quiet.start or at < quiet.end
    if not inside:
        return None
    day = local.date() if at < quiet.end else local.date() + timedelta(days=1)
    end = datetime.combine(day, quiet.end, tzinfo=zone)
    return end.astimezone(now.tzinfo)
