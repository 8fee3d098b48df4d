"""The worker's as-of day: today on the wall clock, or the latest event day seen.

``wall`` is for production: windows slide at midnight (in the scorecard's zone)
even for reps who are quiet. ``event`` makes a run reproducible — the as-of day is
the latest ``occurred_at`` day the worker has seen — so a drained stream can be
compared with ``scorestream replay`` of the same log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from scorers.calendar import Day, day_of


class ClockMode(StrEnum):
    WALL = "wall"
    EVENT = "event"


class Clock:
    def __init__(
        self, mode: ClockMode, zone: tzinfo, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.mode = mode
        self.zone = zone
        self._now = now
        self.latest_event_day: Day | None = None

    def as_of(self) -> Day | None:
        """Today, or the latest event day (None before the first event)."""
        if self.mode is ClockMode.WALL:
            return day_of(self._now(), self.zone)
        return self.latest_event_day

    def observe(self, day: Day) -> bool:
        """Note an accepted event's day; True when it moved the event clock forward."""
        if self.mode is ClockMode.EVENT and (
            self.latest_event_day is None or day > self.latest_event_day
        ):
            self.latest_event_day = day
            return True
        return False
