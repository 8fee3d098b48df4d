"""Folding one CRM event into a rep's state.

The fold is where CRM semantics live: a redelivered event counts once, and a deal
counts at most once — its latest won/lost/reopened event decides, on that event's
day — so a reopened deal takes its points back and a re-won deal counts on its
new day, whatever order the events arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from schemas.events import (
    AccountChurned,
    AccountRenewed,
    CallLogged,
    CallOutcome,
    CourseCompleted,
    DealLost,
    DealReopened,
    DealWon,
    Event,
    LeadConverted,
    LeadDisqualified,
    NpsResponse,
    RepUpserted,
)
from schemas.scorecard_definition import ScorecardDefinition
from scorers import counters as c
from scorers.calendar import Day, day_of, epoch_us, longest_window_days, to_date, zone_of
from scorers.counters import Counters, Delta
from scorers.exceptions import RejectedEvent
from scorers.state import DealOutcome, OrderKey, RepStore

_NO_DELTA: Delta = ()


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Change:
    """A delta applied to (sign 1) or taken back from (sign -1) one day's bucket."""

    day: Day
    delta: Delta
    sign: int


@dataclass(frozen=True, slots=True)
class FoldResult:
    outcome: Outcome
    day: Day
    changes: tuple[Change, ...] = ()


class Folder:
    """Folds events into ``RepStore``s under one scorecard definition (zone, currencies)."""

    def __init__(self, definition: ScorecardDefinition) -> None:
        self.definition = definition
        self.zone = zone_of(definition.timezone)

    def day(self, event: Event) -> Day:
        return day_of(event.occurred_at, self.zone)

    def first_kept_day(self, as_of: Day) -> Day:
        """The oldest day the stream's state keeps as of ``as_of``: the longest window
        plus the allowed lateness. Older events are "too late"; older state is evicted."""
        longest = longest_window_days(self.definition.windows)
        return as_of - (longest - 1) - self.definition.allowed_lateness_days

    def fold(
        self, store: RepStore, event: Event, not_before: Day | None = None, day: Day | None = None
    ) -> FoldResult:
        """Apply ``event`` to ``store``; raise RejectedEvent when the scorecard can't use it.

        ``not_before`` is the first day the stream still keeps; an older event is
        "too late". The replay keeps everything and passes None. ``day`` saves
        recomputing ``self.day(event)`` when the caller has it.
        """
        if day is None:
            day = self.day(event)
        if not_before is not None and day < not_before:
            raise RejectedEvent(
                f"too late: occurred on {to_date(day)}, state is kept from {to_date(not_before)}"
            )
        if isinstance(event, DealWon) and self.definition.rate_to_reporting(event.currency) is None:
            raise RejectedEvent(
                f"currency: no FX rate for {event.currency!r}; add it under fx_rates"
                f" in the scorecard (reporting currency {self.definition.currency})"
            )
        if store.is_seen(event.event_id):
            return FoldResult(Outcome.DUPLICATE, day)
        store.mark_seen(event.event_id, day)
        if isinstance(event, DealWon | DealLost | DealReopened):
            changes = [Change(day, _COUNT_EVENT, 1), *self._fold_deal(store, event, day)]
        elif isinstance(event, RepUpserted):
            changes = [Change(day, _COUNT_EVENT, 1)]
            _fold_directory(store, event)
        else:
            changes = [Change(day, activity_delta(event), 1)]
        if event.team_id is not None and store.profile().directory_key is None:
            _note_event_team(store, event)
        profile = store.profile()
        if profile.first_day is None or day < profile.first_day:
            store.put_profile(replace(profile, first_day=day))
        for change in changes:
            _apply_to_bucket(store, change)
        return FoldResult(Outcome.APPLIED, day, tuple(changes))

    def _fold_deal(
        self, store: RepStore, event: DealWon | DealLost | DealReopened, day: Day
    ) -> list[Change]:
        key = order_key(event)
        current = store.deal(event.deal_id)
        if current is not None and current.key >= key:
            return []  # an older event of a deal already decided by a newer one
        new = DealOutcome(key, day, event.event_type.removeprefix("deal_"), self._deal_delta(event))
        store.put_deal(event.deal_id, new)
        changes = [] if current is None else [Change(current.day, current.delta, -1)]
        changes.append(Change(day, new.delta, 1))
        return changes

    def _deal_delta(self, event: DealWon | DealLost | DealReopened) -> Delta:
        if isinstance(event, DealWon):
            rate = self.definition.rate_to_reporting(event.currency) or 0.0
            cycle = epoch_us(event.occurred_at) - epoch_us(event.opened_at)
            return ((c.WON, 1), (c.REVENUE, c.to_micro(event.amount * rate)), (c.CYCLE_US, cycle))
        if isinstance(event, DealLost):
            return ((c.LOST, 1),)
        return _NO_DELTA


def order_key(event: Event) -> OrderKey:
    return (epoch_us(event.occurred_at), event.event_id)


# Every activity delta also counts the event itself (c.EVENTS), in one bucket update.
_COUNT_EVENT: Delta = ((c.EVENTS, 1),)
_CALL_DELTA: Delta = ((c.EVENTS, 1), (c.CALLS, 1))
_MEETING_DELTA: Delta = ((c.EVENTS, 1), (c.CALLS, 1), (c.MEETINGS, 1))
_PROMOTER_DELTA: Delta = ((c.EVENTS, 1), (c.NPS_RESPONSES, 1), (c.PROMOTERS, 1))
_DETRACTOR_DELTA: Delta = ((c.EVENTS, 1), (c.NPS_RESPONSES, 1), (c.DETRACTORS, 1))
_PASSIVE_DELTA: Delta = ((c.EVENTS, 1), (c.NPS_RESPONSES, 1))
_SIMPLE_DELTAS: dict[type, Delta] = {
    LeadConverted: ((c.EVENTS, 1), (c.CONVERTED, 1)),
    LeadDisqualified: ((c.EVENTS, 1), (c.DISQUALIFIED, 1)),
    AccountRenewed: ((c.EVENTS, 1), (c.RENEWED, 1)),
    AccountChurned: ((c.EVENTS, 1), (c.CHURNED, 1)),
}


def activity_delta(event: Event) -> Delta:
    """What a non-deal activity event adds to its day, the event's own count included."""
    if isinstance(event, CallLogged):
        return _MEETING_DELTA if event.outcome is CallOutcome.MEETING_BOOKED else _CALL_DELTA
    if isinstance(event, NpsResponse):
        if event.score >= 9:
            return _PROMOTER_DELTA
        return _DETRACTOR_DELTA if event.score <= 6 else _PASSIVE_DELTA
    if isinstance(event, CourseCompleted):
        return ((c.EVENTS, 1), (c.COURSES, 1), (c.TRAINING, c.to_micro(event.hours)))
    simple = _SIMPLE_DELTAS.get(type(event))
    if simple is None:
        raise TypeError(f"not an activity event: {event.event_type}")
    return simple


def _apply_to_bucket(store: RepStore, change: Change) -> None:
    if not change.delta:
        return
    bucket: Counters = store.bucket(change.day) or c.zero()
    c.apply(bucket, change.delta, change.sign)
    store.put_bucket(change.day, bucket)


def _fold_directory(store: RepStore, event: RepUpserted) -> None:
    profile = store.profile()
    key = order_key(event)
    if profile.directory_key is None or key > profile.directory_key:
        store.put_profile(
            replace(
                profile,
                name=event.name,
                monthly_quota=event.monthly_quota,
                directory_team=event.team_id,
                directory_key=key,
            )
        )


def _note_event_team(store: RepStore, event: Event) -> None:
    """Remember the team the latest event names; only used while the directory has no entry."""
    profile = store.profile()
    key = order_key(event)
    if profile.event_team_key is None or key > profile.event_team_key:
        store.put_profile(replace(profile, event_team=event.team_id, event_team_key=key))
