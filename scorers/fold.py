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

from dataclasses import dataclass
from datetime import UTC
from typing import cast

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
from scorers.calendar import Day, day_of, epoch_us, from_date, to_date, utc_day_of, zone_of
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
PricedEvent = DealOpened | DealStageChanged | DealWon
# Dispatch on the exact type (the models have no subclasses): isinstance on a pydantic model
# runs Python code, and the fold runs for every event.
_DEALS: frozenset[type] = frozenset({DealOpened, DealStageChanged, DealWon, DealLost, DealReopened})
_PRICED: frozenset[type] = frozenset({DealOpened, DealStageChanged, DealWon})
_COUNTED_ONLY: frozenset[type] = _DEALS | {RepUpserted}


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
    """Folds events under one scorecard definition (zone, currencies), keeping ``kept_days``
    of history (the definition's own when None; the workers pass ``Versions.kept_days``)."""

    def __init__(self, definition: ScorecardDefinition, kept_days: int | None = None) -> None:
        self.definition = definition
        self.zone = zone_of(definition.timezone)
        self.kept_days = definition.kept_days() if kept_days is None else kept_days

    def day(self, event: Event) -> Day:
        if self.zone is UTC:
            return utc_day_of(event.occurred_us)
        return day_of(event.occurred_at, self.zone)

    def first_kept_day(self, as_of: Day) -> Day:
        """The oldest day the stream's state keeps as of ``as_of`` (``kept_days``). Older
        events are "too late"; older state is evicted."""
        return as_of - (self.kept_days - 1)

    def fold(self, rep: RepReader, event: Event, day: Day, not_before: Day | None = None) -> Folded:
        """``event`` folded into ``rep``; RejectedEvent when the scorecard can't use it.

        ``not_before`` is the first day the stream still keeps; an older event is
        "too late". The replay keeps everything and passes None.
        """
        if not_before is not None and day < not_before:
            raise RejectedEvent(
                "too_late",
                f"occurred on {to_date(day)}, state is kept from {to_date(not_before)}"
                " (longest window + allowed_lateness_days, or keep_history_days)",
            )
        currency = cast(PricedEvent, event).currency if type(event) in _PRICED else None
        if currency is not None and self.definition.rate_to_reporting(currency) is None:
            raise RejectedEvent(
                "unknown_currency",
                f"no FX rate for {currency!r}; add it under fx_rates in the scorecard"
                f" (reporting currency {self.definition.currency})",
            )
        before = rep.bucket(day) or EMPTY_BUCKET
        digest = event_digest(event.event_id)
        duplicate = before.holds(digest)
        changes: list[Change] = []
        bucket = before
        if not duplicate:
            delta = _COUNT_EVENT if type(event) in _COUNTED_ONLY else activity_delta(event)
            bucket = before.with_event(digest, delta)
            changes.append(Change(day, delta, 1))
        deal = None
        if type(event) in _DEALS:
            deal, deal_changes = self._fold_deal(rep, cast(DealEvent, event), day)
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
        if type(event) in _PRICED:
            priced = cast(PricedEvent, event)
            if priced.amount is not None:
                amount = Stamped(key, c.to_micro(priced.amount * self._rate(priced.currency)))
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
        if type(event) is DealWon:
            cycle = event.occurred_us - epoch_us(event.opened_at)
            revenue = c.to_micro(event.amount * self._rate(event.currency))
            return ((c.WON, 1), (c.REVENUE, revenue), (c.CYCLE_US, cycle))
        if type(event) is DealLost:
            return ((c.LOST, 1),)
        return _NO_DELTA


def fold_key(definition: ScorecardDefinition) -> tuple[object, ...]:
    """What decoding and folding read from a definition, besides the stream's horizon: the
    zone (an event's day), the currency and FX rates (a deal's revenue) and
    ``max_future_days`` (which events are refused). Definitions with one key fold a log into
    the same state; weights, targets, windows and rules only score it."""
    return (
        definition.timezone,
        definition.currency,
        tuple(sorted(definition.fx_rates.items())),
        definition.max_future_days,
    )


def take(state: RepState, folded: Folded) -> None:
    """Put a folded event's values into ``state`` (the replay's in-memory state)."""
    state.buckets[folded.day] = folded.bucket
    if folded.deal is not None:
        state.deals[folded.deal[0]] = folded.deal[1]
    state.rep_profile = folded.profile


def order_key(event: Event) -> OrderKey:
    return (event.occurred_us, event.event_id)


def merged_profile(profile: RepProfile, event: Event, day: Day) -> RepProfile:
    """The profile with ``event`` in it: the latest directory entry and the latest team an
    event names (each by ``OrderKey``), and the earliest day. Order-free and idempotent."""
    p = profile
    key = order_key(event)
    directory = p.name, p.monthly_quota, p.directory_team, p.directory_key
    named = p.event_team, p.event_team_key
    if type(event) is RepUpserted:
        if p.directory_key is None or key > p.directory_key:
            directory = event.name, event.monthly_quota, event.team_id, key
    elif event.team_id is not None and (p.event_team_key is None or key > p.event_team_key):
        named = event.team_id, key
    first_day = day if p.first_day is None or day < p.first_day else p.first_day
    if (
        directory[3] is p.directory_key
        and named[1] is p.event_team_key
        and first_day == p.first_day
    ):
        return p
    # Built directly, not with dataclasses.replace: this runs for every event folded.
    return RepProfile(*directory, *named, first_day)


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
    if type(event) is CallLogged:
        return _MEETING_DELTA if event.outcome is CallOutcome.MEETING_BOOKED else _CALL_DELTA
    if type(event) is NpsResponse:
        if event.score >= 9:
            return _PROMOTER_DELTA
        return _DETRACTOR_DELTA if event.score <= 6 else _PASSIVE_DELTA
    if type(event) is CourseCompleted:
        return ((c.EVENTS, 1), (c.COURSES, 1), (c.TRAINING, c.to_micro(event.hours)))
    simple = _SIMPLE_DELTAS.get(type(event))
    if simple is None:
        raise TypeError(f"not an activity event: {event.event_type}")
    return simple
