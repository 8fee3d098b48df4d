"""Folding one CRM event into a rep's state.

The fold is where CRM semantics live: a redelivered event counts once, and a deal
counts at most once — its latest opened/stage_changed/won/lost/reopened event decides,
on that event's day — so a reopened deal takes its points back (and is open again) and
a re-won deal counts on its new day, whatever order the events arrive in. A deal's
amount, expected close and stage are each the latest one an event carried.

It reads the rep's state and returns the new values of everything the event
touches; each is correct on its own (see ``scorers.state``), so folding an event
again — after a crash left only some of its writes behind — repairs the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from schemas.events import (
    AccountChurned,
    AccountRenewed,
    CallLogged,
    CallOutcome,
    CourseCompleted,
    DealLost,
    DealOpened,
    DealReopened,
    DealStageChanged,
    DealWon,
    Event,
    LeadConverted,
    LeadDisqualified,
    NpsResponse,
    RepUpserted,
)
from schemas.scorecard_definition import ScorecardDefinition
from scorers import counters as c
from scorers.calendar import Day, day_of, epoch_us, from_date, to_date, zone_of
from scorers.counters import Delta
from scorers.exceptions import RejectedEvent
from scorers.state import (
    EMPTY_BUCKET,
    Bucket,
    DealState,
    OrderKey,
    RepProfile,
    RepReader,
    RepState,
    Stamped,
    event_digest,
)

_NO_DELTA: Delta = ()
DealEvent = DealOpened | DealStageChanged | DealWon | DealLost | DealReopened
_DEALS = (DealOpened, DealStageChanged, DealWon, DealLost, DealReopened)
_PRICED = (DealOpened, DealStageChanged, DealWon)


@dataclass(frozen=True, slots=True)
class Change:
    """A delta applied to (sign 1) or taken back from (sign -1) one day's counts."""

    day: Day
    delta: Delta
    sign: int


@dataclass(frozen=True, slots=True)
class Folded:
    """What one event leaves behind: the new values of the keys it touched, and the
    changes to the counts (for window totals kept current)."""

    duplicate: bool
    """The event was already in its day's bucket (a redelivery)."""
    day: Day
    bucket: Bucket
    deal: tuple[str, DealState] | None
    profile: RepProfile
    changes: tuple[Change, ...]


class Folder:
    """Folds events under one scorecard definition (zone, currencies, kept days)."""

    def __init__(self, definition: ScorecardDefinition) -> None:
        self.definition = definition
        self.zone = zone_of(definition.timezone)

    def day(self, event: Event) -> Day:
        return day_of(event.occurred_at, self.zone)

    def first_kept_day(self, as_of: Day) -> Day:
        """The oldest day the stream's state keeps as of ``as_of``: as far back as anything
        the definition scores reaches, plus the allowed lateness. Older events are "too
        late"; older state is evicted."""
        reach = self.definition.history_days()
        return as_of - (reach - 1) - self.definition.allowed_lateness_days

    def fold(self, rep: RepReader, event: Event, day: Day, not_before: Day | None = None) -> Folded:
        """``event`` folded into ``rep``; RejectedEvent when the scorecard can't use it.

        ``not_before`` is the first day the stream still keeps; an older event is
        "too late". The replay keeps everything and passes None.
        """
        if not_before is not None and day < not_before:
            raise RejectedEvent(
                "too_late",
                f"occurred on {to_date(day)}, state is kept from {to_date(not_before)}"
                " (longest window + allowed_lateness_days)",
            )
        if isinstance(event, _PRICED) and self.definition.rate_to_reporting(event.currency) is None:
            raise RejectedEvent(
                "unknown_currency",
                f"no FX rate for {event.currency!r}; add it under fx_rates in the scorecard"
                f" (reporting currency {self.definition.currency})",
            )
        before = rep.bucket(day) or EMPTY_BUCKET
        digest = event_digest(event.event_id)
        duplicate = before.holds(digest)
        changes: list[Change] = []
        bucket = before
        if not duplicate:
            delta = (
                _COUNT_EVENT if isinstance(event, (*_DEALS, RepUpserted)) else activity_delta(event)
            )
            bucket = before.with_event(digest, delta)
            changes.append(Change(day, delta, 1))
        deal = None
        if isinstance(event, _DEALS):
            deal, deal_changes = self._fold_deal(rep, event, day)
            changes.extend(deal_changes)
        return Folded(
            duplicate, day, bucket, deal, merged_profile(rep.profile(), event, day), tuple(changes)
        )

    def _fold_deal(
        self, rep: RepReader, event: DealEvent, day: Day
    ) -> tuple[tuple[str, DealState], list[Change]]:
        own = self._deal_of(event, day)
        current = rep.deal(event.deal_id)
        if current is None:
            return (event.deal_id, own), [Change(day, own.delta, 1)]
        new = current.merged(own)
        if new.key == current.key:
            return (event.deal_id, new), []  # decided by an event as new or newer
        return (event.deal_id, new), [
            Change(current.day, current.delta, -1),
            Change(day, new.delta, 1),
        ]

    def _deal_of(self, event: DealEvent, day: Day) -> DealState:
        """The deal as this event alone leaves it."""
        key = order_key(event)
        amount = None
        if isinstance(event, _PRICED) and event.amount is not None:
            amount = Stamped(key, c.to_micro(event.amount * self._rate(event.currency)))
        close = stage = None
        if isinstance(event, DealOpened | DealStageChanged):
            stage = Stamped(key, event.stage)
            if event.expected_close is not None:
                close = Stamped(key, from_date(event.expected_close))
        kind = event.event_type.removeprefix("deal_")
        return DealState(key, day, kind, self._deal_delta(event), amount, close, stage)

    def _rate(self, currency: str | None) -> float:
        return self.definition.rate_to_reporting(currency) or 0.0  # checked in ``fold``

    def _deal_delta(self, event: DealEvent) -> Delta:
        if isinstance(event, DealWon):
            cycle = epoch_us(event.occurred_at) - epoch_us(event.opened_at)
            revenue = c.to_micro(event.amount * self._rate(event.currency))
            return ((c.WON, 1), (c.REVENUE, revenue), (c.CYCLE_US, cycle))
        if isinstance(event, DealLost):
            return ((c.LOST, 1),)
        return _NO_DELTA


def take(state: RepState, folded: Folded) -> None:
    """Put a folded event's values into ``state`` (the replay's in-memory state)."""
    state.buckets[folded.day] = folded.bucket
    if folded.deal is not None:
        state.deals[folded.deal[0]] = folded.deal[1]
    state.rep_profile = folded.profile


def order_key(event: Event) -> OrderKey:
    return (epoch_us(event.occurred_at), event.event_id)


def merged_profile(profile: RepProfile, event: Event, day: Day) -> RepProfile:
    """The profile with ``event`` in it: the latest directory entry and the latest team an
    event names (each by ``OrderKey``), and the earliest day. Order-free and idempotent."""
    key = order_key(event)
    changes: dict[str, object] = {}
    if isinstance(event, RepUpserted):
        if profile.directory_key is None or key > profile.directory_key:
            changes.update(
                name=event.name,
                monthly_quota=event.monthly_quota,
                directory_team=event.team_id,
                directory_key=key,
            )
    elif event.team_id is not None and (
        profile.event_team_key is None or key > profile.event_team_key
    ):
        changes.update(event_team=event.team_id, event_team_key=key)
    if profile.first_day is None or day < profile.first_day:
        changes["first_day"] = day
    return replace(profile, **changes) if changes else profile  # type: ignore[arg-type]


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
