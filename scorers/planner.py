"""A batch of consumed messages, planned: everything the worker must write and send.

``plan_batch`` is the worker's functional core. From the state it is given (the reps'
values, their window totals, the cards last written) and the batch's messages, it returns
a ``BatchPlan``: the dead letters with their reasons, the state values to write back, the
scorecards and their changes for Redis, the score events, team updates and alerts for
Kafka. It does no I/O and changes nothing it was given; the shell in ``streams.worker``
reads once, calls it, and applies the plan in one pass per store. ``plan_fold``, its first
step alone, is the replay's (``scorers.replay``): the stream and the replay fold by one code.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from schemas.access import DirectoryUpdate
from schemas.dead_letter import DeadLetter, Reason
from schemas.events import RepUpserted
from scorers.alerts import Alert, run_rules
from scorers.calendar import Day, epoch_us, to_date
from scorers.changes import ScorecardChange, change
from scorers.clock import ClockMode, EventClock, advanced
from scorers.evaluate import input_to_wire
from scorers.exceptions import RejectedEvent
from scorers.fold import Change, order_key, take
from scorers.intake import Accepted, Message, Rejected, decode
from scorers.rep_scoring import (
    Layout,
    RepTotals,
    ScoredRep,
    rep_facts,
    score_rep,
    totals_for,
    totals_with,
)
from scorers.scoring import Scorecard
from scorers.state import RepState, RepWrites, RuleBook, evictions

CardKey = tuple[str, str]
"""(rep_id, window)."""


@dataclass(frozen=True, slots=True)
class BatchInput:
    """What the shell knows besides the state: the messages, the time, what to score."""

    messages: Sequence[Message]
    now: datetime
    """The wall clock (aware); ``today`` is its day in the scorecard's zone."""
    today: Day
    mode: ClockMode
    clock: EventClock
    lagging: Collection[str] = ()
    """Input partitions with unread messages once this batch is handled."""
    score: bool = True
    """Score now: the reps this batch folds into and the ``carried`` ones (False while
    catching up, between the times it scores: fold only)."""
    carried: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Reps folded into in earlier batches and not scored yet -> those events' ids."""
    scored_as_of: Day | None = None
    """The as-of day every rep was last scored for. When scoring and the as-of day is
    another, every rep is scored (windows slide for quiet reps too) and what no window
    can reach any more is deleted."""
    rescore_all: bool = False
    """Score every rep even on the same as-of day (state just read, Redis rewritten)."""
    rules: bool = True
    """Run the coaching rules on the reps scored (False while catching up)."""
    new_definition: bool = False
    """The layout is a definition version the cards in ``previous`` were not scored with:
    a card that moved without an event names the definition as its cause."""
    cpu: Callable[[], float] | None = None
    """A CPU clock (``time.process_time``) to time the scoring with, for the metrics;
    passed in so that the planner stays a function of its inputs."""


@dataclass(frozen=True, slots=True)
class CardUpdate:
    """A scorecard to write: its published body, the card it replaces and the move since."""

    card: Scorecard
    body: dict[str, object]
    previous: Scorecard | None
    change: ScorecardChange


@dataclass(slots=True)
class BatchPlan:
    as_of: Day | None
    clock: EventClock
    states: dict[str, RepState] = field(default_factory=dict)
    """The new state of every rep the batch changed (the inputs are left as they were)."""
    writes: list[RepWrites] = field(default_factory=list)
    totals: dict[str, RepTotals] = field(default_factory=dict)
    dead_letters: list[tuple[Rejected, DeadLetter]] = field(default_factory=list)
    duplicates: int = 0
    touched: dict[str, list[str]] = field(default_factory=dict)
    """Rep -> the ids of the events folded into it, in the order handled."""
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    """Rep -> the record timestamps of its messages folded (for event-to-Redis latency)."""
    partitions: dict[str, int] = field(default_factory=dict)
    """Rep -> the partition of its messages: where its state is written."""
    scored_all: bool = False
    scored: list[ScoredRep] = field(default_factory=list)
    cards: list[CardUpdate] = field(default_factory=list)
    score_events: list[tuple[bytes, bytes]] = field(default_factory=list)
    team_updates: list[tuple[bytes, bytes]] = field(default_factory=list)
    alerts: list[dict[str, object]] = field(default_factory=list)
    """``CoachingAlert`` bodies fired now (also in their rep's outbox until sent)."""
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(rep, traceback) of reps whose scoring raised: logged, their cards left as they were."""
    directory: dict[str, DirectoryUpdate] = field(default_factory=dict)
    """Rep -> its latest ``rep_upserted`` of the batch, for the people directory in Redis
    (written only over an older entry: order-free, as the profile)."""
    latest_day: Day | None = None
    """The latest day of an event folded (not a duplicate)."""
    scoring_s: float = 0.0
    """CPU seconds spent scoring (by ``BatchInput.cpu``; 0 without it)."""


def plan_batch(
    layout: Layout,
    inp: BatchInput,
    states: Mapping[str, RepState],
    totals: Mapping[str, RepTotals],
    previous: Mapping[CardKey, Scorecard],
) -> BatchPlan:
    """Everything one batch must do; see the module's docstring."""
    now_us = epoch_us(inp.now)
    decoded = [decode(layout.folder, m, now_us) for m in inp.messages]
    accepted = [d for d in decoded if isinstance(d, Accepted)]
    seen: dict[str, Day] = {}
    for ok in accepted:
        seen[ok.message.source] = max(ok.day, seen.get(ok.message.source, ok.day))
    as_of: Day | None = inp.today
    clock = inp.clock
    if inp.mode is ClockMode.EVENT:
        clock = advanced(inp.clock, seen, inp.lagging, inp.today)
        as_of = clock.as_of
    plan = BatchPlan(as_of, clock)
    floor = None if as_of is None else layout.folder.first_kept_day(as_of)
    folding = _fold(layout, decoded, states, plan, inp.now, floor)
    if as_of is not None and inp.score:
        plan.scored_all = inp.rescore_all or as_of != inp.scored_as_of
        reps = list(folding.reps)
        extra = set(states) if plan.scored_all else set(inp.carried)
        reps += sorted(extra - set(reps))
        started = inp.cpu() if inp.cpu else 0.0
        for rep_id in reps:
            _score(layout, inp, folding, rep_id, as_of, totals.get(rep_id), previous, plan)
        plan.scoring_s = inp.cpu() - started if inp.cpu else 0.0
    folding.finish()
    return plan


def plan_fold(
    layout: Layout,
    decoded: Sequence[Accepted | Rejected],
    states: Mapping[str, RepState],
    now: datetime,
    floor: Day | None = None,
) -> BatchPlan:
    """``decoded`` folded, in order, into copies of ``states``: the new states, the dead
    letters and the duplicates; no clock, no scoring. ``floor``: the first day kept (None
    keeps everything, as the replay does)."""
    plan = BatchPlan(None, EventClock())
    _fold(layout, decoded, states, plan, now, floor).finish()
    return plan


def _fold(
    layout: Layout,
    decoded: Sequence[Accepted | Rejected],
    states: Mapping[str, RepState],
    plan: BatchPlan,
    now: datetime,
    floor: Day | None,
) -> _Folding:
    folding = _Folding(layout, states, plan, now)
    for bad in decoded:
        if isinstance(bad, Rejected):
            folding.reject(bad)
    for ok in decoded:
        if isinstance(ok, Accepted):
            folding.fold(ok, floor)
    return folding


@dataclass(slots=True)
class _Rep:
    """A rep during planning: a copy of its state with the batch in it, and what to write."""

    state: RepState
    writes: RepWrites
    changes: list[Change] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


class _Folding:
    def __init__(
        self, layout: Layout, states: Mapping[str, RepState], plan: BatchPlan, now: datetime
    ) -> None:
        self.layout = layout
        self.states = states
        self.plan = plan
        self.now = now
        self.reps: dict[str, _Rep] = {}
        """Reps the batch works on, in the order first touched."""

    def rep(self, rep_id: str) -> _Rep:
        work = self.reps.get(rep_id)
        if work is None:
            base = self.states.get(rep_id) or RepState(rep_id)
            work = self.reps[rep_id] = _Rep(base.copy(), RepWrites(rep_id))
        return work

    def finish(self) -> None:
        """Put every rep worked on in the plan: its new state, and its writes if any."""
        for rep_id, work in self.reps.items():
            self.plan.states[rep_id] = work.state
            if work.writes:
                self.plan.writes.append(work.writes)

    def reject(self, rejected: Rejected) -> None:
        self.plan.dead_letters.append((rejected, _dead_letter(rejected, self.now)))

    def fold(self, item: Accepted, floor: Day | None) -> None:
        event, message = item.event, item.message
        base = self.reps.get(event.rep_id)
        try:
            folded = self.layout.folder.fold(
                base.state if base else self.states.get(event.rep_id) or RepState(event.rep_id),
                event,
                item.day,
                floor,
            )
        except RejectedEvent as exc:
            self.reject(Rejected(message, Reason(exc.code), str(exc)))
            return
        except Exception as exc:  # a bug must cost one message, never the worker
            detail = f"{type(exc).__name__}: {exc}"
            self.reject(Rejected(message, Reason.INTERNAL_ERROR, detail, traceback.format_exc()))
            return
        work = self.rep(event.rep_id)
        take(work.state, folded)
        writes = work.writes  # every key it touched, changed or not
        writes.buckets[folded.day] = folded.bucket
        if folded.deal is not None:
            writes.deals[folded.deal[0]] = folded.deal[1]
        writes.profile = folded.profile
        self.plan.partitions[event.rep_id] = message.partition
        if message.timestamp is not None:
            self.plan.arrivals.setdefault(event.rep_id, []).append(message.timestamp)
        work.changes.extend(folded.changes)
        if type(event) is RepUpserted:  # a duplicate too: its write may be what a crash lost
            known = self.plan.directory.get(event.rep_id)
            if known is None or order_key(event) > known.key:
                self.plan.directory[event.rep_id] = DirectoryUpdate.of(event, order_key(event))
        if folded.duplicate:
            self.plan.duplicates += 1
        else:
            work.event_ids.append(event.event_id)
            self.plan.touched.setdefault(event.rep_id, []).append(event.event_id)
            latest = self.plan.latest_day
            if latest is None or folded.day > latest:
                self.plan.latest_day = folded.day


def _score(
    layout: Layout,
    inp: BatchInput,
    folding: _Folding,
    rep_id: str,
    as_of: Day,
    cached: RepTotals | None,
    previous: Mapping[CardKey, Scorecard],
    plan: BatchPlan,
) -> None:
    base = folding.states.get(rep_id)
    work = folding.reps.get(rep_id)
    if base is None and work is None:
        return
    try:
        # Totals come from the state before the batch, then take the batch's changes.
        rep_totals = totals_for(layout, base or RepState(rep_id), as_of, cached)
        if work is not None:
            rep_totals = totals_with(rep_totals, work.changes)
        plan.totals[rep_id] = rep_totals
        state = work.state if work is not None else base
        assert state is not None
        if plan.scored_all:
            evicted = evictions(state, layout.folder.first_kept_day(as_of))
            if evicted:
                work = folding.rep(rep_id)
                state = work.state
                state.apply(evicted)
                work.writes.buckets.update(evicted.buckets)
                work.writes.deals.update(evicted.deals)
        if not state.rep_profile.has_activity(as_of):
            return
        scored = score_rep(layout, state, rep_totals)
        fired = _rules(layout, inp, folding, state, scored) if inp.rules else []
    except Exception:  # a bug in scoring one rep must not stop the others
        plan.failures.append((rep_id, traceback.format_exc()))
        return
    plan.scored.append(scored)
    ids = [*inp.carried.get(rep_id, ()), *(work.event_ids if work is not None else ())]
    cause = (
        {"kind": "event", "event_id": ids[-1], "event_ids": ids}
        if ids
        else {
            "kind": "definition" if inp.new_definition else "day_rollover",
            "event_id": None,
            "event_ids": [],
        }
    )
    old_teams = set()
    moved_any = False
    for card in scored.cards:
        before = previous.get((rep_id, card.window))
        if before is not None and before.team_id is not None:
            old_teams.add(before.team_id)
        if before == card:
            continue
        moved_any = True
        body = card.to_dict()
        moved = change(before, card)
        plan.cards.append(CardUpdate(card, body, before, moved))
        if before is None or not card.same_scores(before):
            plan.score_events.append((rep_id.encode(), _score_event(body, moved, cause, inp.now)))
    team = scored.team_id
    if team is not None and moved_any:
        update = {
            "team_id": team,
            "rep_id": rep_id,
            "as_of": as_of,
            "inputs": {w: input_to_wire(i) for w, i in scored.inputs.items()},
        }
        plan.team_updates.append((team.encode(), orjson.dumps(update)))
    for old in sorted(old_teams - {team}):
        leave = {"team_id": old, "rep_id": rep_id, "as_of": as_of}
        plan.team_updates.append((old.encode(), orjson.dumps(leave)))
    plan.alerts.extend(fired)


def _rules(
    layout: Layout, inp: BatchInput, folding: _Folding, state: RepState, scored: ScoredRep
) -> list[dict[str, object]]:
    """Run the rules on a scored rep; the alerts fired go to its outbox in the same write."""
    if not layout.definition.alerts:
        return []
    book = state.rules
    alerts, changed = run_rules(layout.definition, rep_facts(layout, state, scored), book.states)
    if not changed and not alerts:
        return []
    bodies = [alert_body(a, inp.now, layout.version) for a in alerts]
    new_book = RuleBook({**book.states, **changed}, (*book.outbox, *bodies))
    work = folding.rep(state.rep_id)
    work.state.rules = work.writes.rules = new_book
    return bodies


def alert_body(alert: Alert, raised_at: datetime, version: int | None) -> dict[str, object]:
    """A fired alert as the ``CoachingAlert`` JSON (``schemas.outputs``); ``version``: the
    definition version whose rule fired."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "kind": alert.kind,
        "severity": alert.severity,
        "rep_id": alert.rep_id,
        "team_id": alert.team_id,
        "window": alert.window,
        "period": alert.period,
        "as_of": to_date(alert.as_of).isoformat(),
        "evidence": alert.evidence,
        "text": alert.text,
        "raised_at": raised_at.isoformat(),
        "definition_version": version,
    }


def sent(state: RepState, alert_ids: Collection[str]) -> RepWrites | None:
    """The rule book without the alerts Kafka has acknowledged, or None if none is in it."""
    outbox = tuple(a for a in state.rules.outbox if a["alert_id"] not in alert_ids)
    if len(outbox) == len(state.rules.outbox):
        return None
    return RepWrites(state.rep_id, rules=RuleBook(state.rules.states, outbox))


def _score_event(
    body: dict[str, object], moved: ScorecardChange, cause: dict[str, object], now: datetime
) -> bytes:
    """The ``ScorecardUpdated`` JSON (``schemas.outputs``) of a card whose scores changed.

    Built as a dict and dumped by orjson: a pydantic model per card (and per KPI) cost
    more than the rest of the send; tests hold the output to the contract."""
    kpis = body["kpis"]
    assert isinstance(kpis, dict)
    return orjson.dumps(
        {
            **body,
            "kpis": {
                name: {
                    **kpi,
                    "value_change": moved.kpis[name].value,
                    "contribution_change": moved.kpis[name].contribution,
                }
                for name, kpi in kpis.items()
            },
            "overall_change": moved.overall,
            "perspective_changes": moved.perspectives,
            "cause": cause,
            "emitted_at": now,
        }
    )


def _dead_letter(item: Rejected, now: datetime) -> DeadLetter:
    message = item.message
    return DeadLetter.of(
        message.value,
        key=message.key,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=item.reason,
        detail=item.detail,
        failed_at=now,
    )
