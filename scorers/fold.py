"""Folding one CRM event into a rep's state.

The fold is where CRM semantics live: a redelivered event counts once, and a deal
counts at most once — its latest won/lost/reopened event decides, on that event's
day — so a reopened deal takes its points back and a re-won deal counts on its
new day, whatever order the events arrive in.

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
from scorers.calendar import Day, day_of, epoch_us, to_date, zone_of
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
    event_digest,
)

_NO_DELTA: Delta = ()
_DEALS = (DealWon, DealLost, DealReopened)


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
        """The oldest day the stream's state keeps as of ``as_of`` (the definition's
        ``kept_days``). Older events are "too late"; older state is evicted."""
        return as_of - (self.definition.kept_days() - 1)

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
        if isinstance(event, DealWon) and self.definition.rate_to_reporting(event.currency) is None:
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
        self, rep: RepReader, event: DealWon | DealLost | DealReopened, day: Day
    ) -> tuple[tuple[str, DealState], list[Change]]:
        key = order_key(event)
        current = rep.deal(event.deal_id)
        if current is not None and current.key >= key:
            return (event.deal_id, current), []  # decided by this event, or a newer one
        new = DealState(key, day, event.event_type.removeprefix("deal_"), self._deal_delta(event))
        changes = [] if current is None else [Change(current.day, current.delta, -1)]
        changes.append(Change(day, new.delta, 1))
        return (event.deal_id, new), changes

    def _deal_delta(self, event: DealWon | DealLost | DealReopened) -> Delta:
        if isinstance(event, DealWon):
            rate = self.definition.rate_to_reporting(event.currency) or 0.0
            cycle = epoch_us(event.occurred_at) - epoch_us(event.opened_at)
            return ((c.WON, 1), (c.REVENUE, c.to_micro(event.amount * rate)), (c.CYCLE_US, cycle))
        if isinstance(event, DealLost):
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
