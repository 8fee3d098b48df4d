"""What the worker holds in memory for its assigned partitions, in one object.

The reps' state (a copy of the state table, read whole when a partition is
assigned), their window totals, the cards last written to Redis, the event clock,
and the reps folded but not yet scored. All of it belongs to the partitions the
worker owns now: ``clear`` on a rebalance, and it is read again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from scorers.calendar import Day
from scorers.clock import AS_OF_SOURCE, EventClock
from scorers.effects import CardKey
from scorers.planner import BatchPlan
from scorers.rep_scoring import RepTotals
from scorers.scoring import Scorecard
from scorers.state import RepState


@dataclass(slots=True)
class Memory:
    partitions: set[int] = field(default_factory=set)
    """Partitions whose state is loaded."""
    states: dict[str, RepState] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    totals: dict[str, RepTotals] = field(default_factory=dict)
    previous: dict[CardKey, Scorecard] = field(default_factory=dict)
    """The cards last written to Redis (read back from Redis when a partition is assigned)."""
    clock: EventClock = field(default_factory=EventClock)
    dirty: dict[str, list[str]] = field(default_factory=dict)
    """Reps folded into and not scored yet -> the ids of those events."""
    waiting: dict[str, list[float]] = field(default_factory=dict)
    """Reps not scored yet -> record timestamps of their events (event-to-Redis latency)."""
    scored_as_of: Day | None = None
    """The as-of day every rep was last scored for."""
    rescore_all: bool = True
    """Score every rep at the next chance, even on the same day: state loaded, Redis lost."""
    redis_lost: bool = False
    """Redis lost what the worker wrote: write every card again, in full."""
    new_definition: bool = False
    """A definition version came in force since every rep was last scored."""

    def clear(self) -> None:
        self.partitions.clear()
        self.states.clear()
        self.partition_of.clear()
        self.totals.clear()
        self.previous.clear()
        self.clock = EventClock()
        self.dirty.clear()
        self.waiting.clear()
        self.scored_as_of = None
        self.rescore_all = True

    def forget_cards_if_redis_lost(self) -> None:
        """At a batch's start (never during one): if Redis lost what the worker wrote, this
        batch writes every card again, in full, with nothing to diff against."""
        if self.redis_lost:
            self.previous.clear()
            self.redis_lost, self.rescore_all = False, True

    def definition_changed(self, windows: Collection[str], windows_moved: bool) -> None:
        """A new definition version is in force: every rep is scored again at the next chance,
        from the state kept. ``windows`` are its cards' windows (cards of others are no longer
        written); ``windows_moved``: the totals' windows differ, so the totals are rebuilt."""
        self.rescore_all = self.new_definition = True
        if windows_moved:
            self.totals.clear()
        self.previous = {key: card for key, card in self.previous.items() if key[1] in windows}

    def restore_clock(self, latest: dict[str, Day]) -> None:
        """Merge a loaded partition's clock records (latest days, and its last as-of day)."""
        as_of = latest.pop(AS_OF_SOURCE, None)
        merged = {**self.clock.latest, **latest}
        if as_of is not None and self.clock.as_of is not None:
            as_of = max(as_of, self.clock.as_of)
        self.clock = EventClock(merged, as_of if as_of is not None else self.clock.as_of)

    def absorb(self, plan: BatchPlan) -> list[float]:
        """Take a plan that was written: the new state and totals, the cards now in Redis,
        the reps still to score. Returns the record timestamps of the events whose cards
        are now in Redis."""
        self.states.update(plan.states)
        for rep_id in plan.states.keys() - plan.totals.keys():
            self.totals.pop(rep_id, None)  # folded, not scored: its totals are stale
        self.totals.update(plan.totals)
        for rep_id, ids in plan.touched.items():
            self.dirty.setdefault(rep_id, []).extend(ids)
        for rep_id, arrivals in plan.arrivals.items():
            self.waiting.setdefault(rep_id, []).extend(arrivals)
        for update in plan.cards:
            assert update.card.rep_id is not None
            self.previous[(update.card.rep_id, update.card.window)] = update.card
        self.clock = plan.clock
        if plan.scored_all:
            self.scored_as_of, self.rescore_all, self.new_definition = plan.as_of, False, False
        self.partition_of.update(plan.partition_of)
        delivered: list[float] = []
        for rep_id in plan.scored:
            self.dirty.pop(rep_id, None)
            delivered.extend(self.waiting.pop(rep_id, ()))
        return delivered
