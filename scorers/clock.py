"""The as-of day: today on the wall clock, or a watermark of the event days read.

``wall`` is for production: windows slide at midnight (in the scorecard's zone)
even for quiet reps. ``event`` makes a run reproducible: the as-of day is the
earliest of the latest event days of the input partitions that still have unread
messages (the latest of all once none has), so a topic read ahead of another does
not make the other's events look late, and a rep does not look idle while its
calls are still unread. An idle partition does not hold the clock back, the clock
never goes back, and it never runs past the wall clock's today.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from scorers.calendar import Day

AS_OF_SOURCE = "as_of"
"""The clock record that keeps a state partition's last as-of day (beside one per input
partition)."""


class ClockMode(StrEnum):
    WALL = "wall"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class EventClock:
    latest: Mapping[str, Day] = field(default_factory=dict)
    """Input partition (``topic|partition``) -> the latest day of a valid event read from it."""
    as_of: Day | None = None


def advanced(
    clock: EventClock, seen: Mapping[str, Day], lagging: Collection[str], today: Day
) -> EventClock:
    """The clock after events of the days ``seen`` (latest per partition) were read, with
    ``lagging`` the partitions that still have unread messages."""
    latest = dict(clock.latest)
    for source, day in seen.items():
        if day > latest.get(source, day - 1):
            latest[source] = day
    if not latest:
        return EventClock(latest, clock.as_of)
    behind = [latest[s] for s in lagging if s in latest]
    mark = min(behind) if behind else max(latest.values())
    as_of = min(today, mark if clock.as_of is None else max(clock.as_of, mark))
    if clock.as_of is not None:
        as_of = max(as_of, clock.as_of)  # never back, even if today's zone moved
    return EventClock(latest, as_of)


def as_of_day(
    mode: ClockMode,
    clock: EventClock,
    seen: Mapping[str, Day],
    lagging: Collection[str],
    today: Day,
) -> tuple[EventClock, Day | None]:
    """The clock once ``seen`` is read, and the as-of day to score for: today on the wall
    clock (the event clock then stays as it is), else the event clock's watermark (None
    before any event)."""
    if mode is ClockMode.WALL:
        return clock, today
    moved = advanced(clock, seen, lagging, today)
    return moved, moved.as_of
