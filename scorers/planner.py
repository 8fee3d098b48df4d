"""A batch of consumed messages, planned: everything the worker must write and send.

``plan_batch`` is the worker's functional core. From the state it is given (the reps'
values, their window totals, the cards last written) and the batch's messages, it returns
a frozen ``BatchPlan`` of typed effects (``scorers.effects``): the dead letters with their
reasons, the state and clock records to write, the scorecards and their changes for Redis,
the score events, team updates and alerts for Kafka. It does no I/O and changes nothing it
was given; the shell in ``streams.worker`` reads once, calls it, and applies the plan in
one pass per store. ``plan_fold``, its first step alone, is the replay's
(``scorers.replay``): the stream and the replay fold by one code. ``plan_load`` is what a
newly assigned partition needs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.access import DirectoryUpdate
from schemas.outputs import CoachingAlert
from scorers.batch_fold import Folding, fold_all
from scorers.batch_scoring import Scoring
from scorers.calendar import Day, epoch_us
from scorers.clock import AS_OF_SOURCE, ClockMode, EventClock, as_of_day
from scorers.effects import (
    CardKey,
    CardUpdate,
    ClockWrite,
    DeadLettered,
    ScoreEvent,
    StateWrite,
    TeamUpdate,
)
from scorers.intake import Accepted, Message, Rejected, decode
from scorers.rep_scoring import Layout, RepTotals
from scorers.scoring import Scorecard
from scorers.state import RepState, RepWrites, RuleBook


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
    partition_of: Mapping[str, int] = field(default_factory=dict)
    """Rep -> the state partition it lives in (for reps the batch has no message of)."""
    partitions: Collection[int] = ()
    """The state partitions loaded: each keeps a record of the as-of day."""
    cpu: Callable[[], float] | None = None
    """A CPU clock (``time.process_time``) to time the scoring with, for the metrics;
    passed in so that the planner stays a function of its inputs."""


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Everything a batch must do, for the shell to apply as it is."""

    as_of: Day | None
    clock: EventClock
    states: Mapping[str, RepState]
    """The new state of every rep the batch changed (the inputs are left as they were)."""
    state_writes: tuple[StateWrite, ...]
    clock_writes: tuple[ClockWrite, ...]
    dead_letters: tuple[DeadLettered, ...]
    duplicates: int
    partition_of: Mapping[str, int]
    """Rep -> the partition of its messages in the batch: where its state lives."""
    touched: Mapping[str, tuple[str, ...]]
    """Rep -> the ids of the events folded into it, in the order handled."""
    arrivals: Mapping[str, tuple[float, ...]]
    """Rep -> the record timestamps of its messages folded (for event-to-Redis latency)."""
    directory: Mapping[str, DirectoryUpdate]
    """Rep -> its latest ``rep_upserted`` of the batch, for the people directory in Redis
    (written only over an older entry: order-free, as the profile)."""
    latest_day: Day | None
    """The latest day of an event folded (not a duplicate)."""
    scored_all: bool = False
    scored: tuple[str, ...] = ()
    """The reps scored, whose cards in Redis are now current."""
    totals: Mapping[str, RepTotals] = field(default_factory=dict)
    """The window totals of the reps scored (the worker keeps them for the next batch)."""
    cards: tuple[CardUpdate, ...] = ()
    score_events: tuple[ScoreEvent, ...] = ()
    team_updates: tuple[TeamUpdate, ...] = ()
    alerts: Mapping[str, tuple[CoachingAlert, ...]] = field(default_factory=dict)
    """Rep -> the alerts fired now (also in its outbox until sent)."""
    failures: tuple[tuple[str, str], ...] = ()
    """(rep, traceback) of reps whose scoring raised: logged, their cards left as they were."""
    scoring_s: float = 0.0
    """CPU seconds spent on the reps scored: totals, scores, rules, cards and score events
    (by ``BatchInput.cpu``; 0 without it)."""
    score_s: float = 0.0
    """Of ``scoring_s``, the seconds in ``score_rep``: scoring a rep, every window."""


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
    seen: dict[str, Day] = {}
    sources: dict[str, int] = {}
    for ok in decoded:
        if isinstance(ok, Accepted):
            source = ok.message.source
            seen[source] = max(ok.day, seen.get(source, ok.day))
            sources[source] = ok.message.partition
    clock, as_of = as_of_day(inp.mode, inp.clock, seen, inp.lagging, inp.today)
    floor = None if as_of is None else layout.folder.first_kept_day(as_of)
    folding = fold_all(layout, decoded, states, inp.now, floor)
    scoring = Scoring(
        layout, folding, previous, inp.now, inp.carried,
        rules=inp.rules, new_definition=inp.new_definition, cpu=inp.cpu,
    )  # fmt: skip
    if as_of is not None and inp.score:
        scoring.all = inp.rescore_all or as_of != inp.scored_as_of
        reps = list(folding.reps)
        extra = set(states) if scoring.all else set(inp.carried)
        reps += sorted(extra - set(reps))
        started = inp.cpu() if inp.cpu else 0.0
        for rep_id in reps:
            scoring.score(rep_id, as_of, totals.get(rep_id))
        scoring.cpu_s = inp.cpu() - started if inp.cpu else 0.0
    clock_writes = [
        ClockWrite(sources[source], source, day)
        for source, day in clock.latest.items()
        if inp.clock.latest.get(source) != day
    ]
    if clock.as_of is not None and clock.as_of != inp.clock.as_of:
        clock_writes += [ClockWrite(p, AS_OF_SOURCE, clock.as_of) for p in sorted(inp.partitions)]
    return _plan(folding, scoring, as_of, clock, inp.partition_of, tuple(clock_writes))


def plan_fold(
    layout: Layout,
    decoded: Sequence[Accepted | Rejected],
    states: Mapping[str, RepState],
    now: datetime,
    floor: Day | None = None,
) -> BatchPlan:
    """``decoded`` folded, in order, into copies of ``states``: the new states, the dead
    letters and the duplicates; no clock, no scoring, nothing to write. ``floor``: the first
    day kept (None keeps everything, as the replay does)."""
    folding = fold_all(layout, decoded, states, now, floor, record=False)
    unscored = Scoring(layout, folding, {}, now, {}, rules=False, new_definition=False)
    return _plan(folding, unscored, None, EventClock(), {}, ())


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What newly loaded reps need: their cards read from Redis, to diff against, and the
    alerts a worker before raised but may not have sent."""

    card_keys: tuple[CardKey, ...]
    resend: Mapping[str, tuple[CoachingAlert, ...]]


def plan_load(
    states: Mapping[str, RepState], windows: Sequence[str], known: Collection[CardKey]
) -> LoadPlan:
    """``states``: the reps held; ``known``: the cards already in memory."""
    keys = [(rep, w) for rep in states for w in windows if (rep, w) not in known]
    resend = {
        rep: tuple(CoachingAlert.model_validate(a) for a in state.rules.outbox)
        for rep, state in states.items()
        if state.rules.outbox
    }
    return LoadPlan(tuple(keys), resend)


def sent(state: RepState, alert_ids: Collection[str]) -> RepWrites | None:
    """The rule book without the alerts Kafka has acknowledged, or None if none is in it."""
    outbox = tuple(a for a in state.rules.outbox if a["alert_id"] not in alert_ids)
    if len(outbox) == len(state.rules.outbox):
        return None
    return RepWrites(state.rep_id, rules=RuleBook(state.rules.states, outbox))


def _plan(
    folding: Folding,
    scoring: Scoring,
    as_of: Day | None,
    clock: EventClock,
    partition_of: Mapping[str, int],
    clock_writes: tuple[ClockWrite, ...],
) -> BatchPlan:
    """The plan: every rep worked on with its new state, and its writes if any."""
    reps = folding.reps.items()

    def where(rep_id: str) -> int:
        batch = folding.partition_of.get(rep_id)
        return partition_of[rep_id] if batch is None else batch

    return BatchPlan(
        as_of=as_of,
        clock=clock,
        states={rep_id: work.state for rep_id, work in reps},
        state_writes=tuple(
            StateWrite(where(w.writes.rep_id), w.writes) for _, w in reps if w.writes
        ),
        clock_writes=clock_writes,
        dead_letters=tuple(folding.dead_letters),
        duplicates=folding.duplicates,
        partition_of=folding.partition_of,
        touched={rep_id: tuple(w.event_ids) for rep_id, w in reps if w.event_ids},
        arrivals={rep_id: tuple(w.arrivals) for rep_id, w in reps if w.arrivals},
        directory=folding.directory,
        latest_day=folding.latest_day,
        scored_all=scoring.all,
        scored=tuple(scoring.scored),
        totals=scoring.totals,
        cards=tuple(scoring.cards),
        score_events=tuple(scoring.score_events),
        team_updates=tuple(scoring.team_updates),
        alerts=scoring.alerts,
        failures=tuple(scoring.failures),
        scoring_s=scoring.cpu_s,
        score_s=scoring.score_s,
    )
