"""A batch's messages folded, in order, into copies of the reps' states.

The first step of every plan (``scorers.planner``): what each rep's state becomes, what to
write for it, the messages refused and why. The replay folds by this code too.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.access import DirectoryUpdate
from schemas.dead_letter import Reason
from schemas.events import RepUpserted
from scorers.calendar import Day
from scorers.effects import DeadLettered
from scorers.exceptions import RejectedEvent
from scorers.fold import Change, Folded, order_key, take
from scorers.intake import Accepted, Rejected
from scorers.rep_scoring import Layout
from scorers.state import RepState, RepWrites


def fold_all(
    layout: Layout,
    decoded: Sequence[Accepted | Rejected],
    states: Mapping[str, RepState],
    now: datetime,
    floor: Day | None,
    *,
    record: bool = True,
) -> Folding:
    folding = Folding(layout, states, now, record=record)
    for bad in decoded:
        if isinstance(bad, Rejected):
            folding.reject(bad)
    for ok in decoded:
        if isinstance(ok, Accepted):
            folding.fold(ok, floor)
    return folding


@dataclass(slots=True)
class WorkRep:
    """A rep during planning: a copy of its state with the batch in it, and what to write."""

    state: RepState
    writes: RepWrites
    changes: list[Change] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)


class Folding:
    """The batch's messages folded into copies of the reps' states (and what the scoring
    then changes in them: evictions, rule books)."""

    def __init__(
        self, layout: Layout, states: Mapping[str, RepState], now: datetime, *, record: bool = True
    ) -> None:
        self.layout = layout
        self.states = states
        self.now = now
        self.record = record
        """Keep, per rep, what the stream writes and scores from the events folded (the
        writes, changes, event ids, arrivals, partitions, directory); the replay needs only
        the states."""
        self.reps: dict[str, WorkRep] = {}
        """Reps the batch works on, in the order first touched."""
        self.dead_letters: list[DeadLettered] = []
        self.duplicates = 0
        self.partition_of: dict[str, int] = {}
        self.directory: dict[str, DirectoryUpdate] = {}
        self.latest_day: Day | None = None

    def rep(self, rep_id: str) -> WorkRep:
        work = self.reps.get(rep_id)
        if work is None:
            base = self.states.get(rep_id) or RepState(rep_id)
            work = self.reps[rep_id] = WorkRep(base.copy(), RepWrites(rep_id))
        return work

    def reject(self, rejected: Rejected) -> None:
        self.dead_letters.append(DeadLettered.of(rejected, self.now))

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
        if folded.duplicate:
            self.duplicates += 1
        elif self.latest_day is None or folded.day > self.latest_day:
            self.latest_day = folded.day
        if self.record:
            self._record(work, item, folded)

    def _record(self, work: WorkRep, item: Accepted, folded: Folded) -> None:
        event, message = item.event, item.message
        writes = work.writes  # every key it touched, changed or not
        writes.buckets[folded.day] = folded.bucket
        if folded.deal is not None:
            writes.deals[folded.deal[0]] = folded.deal[1]
        writes.profile = folded.profile
        self.partition_of[event.rep_id] = message.partition
        if message.timestamp is not None:
            work.arrivals.append(message.timestamp)
        work.changes.extend(folded.changes)
        if type(event) is RepUpserted:  # a duplicate too: its write may be what a crash lost
            known = self.directory.get(event.rep_id)
            if known is None or order_key(event) > known.key:
                self.directory[event.rep_id] = DirectoryUpdate.of(event, order_key(event))
        if not folded.duplicate:
            work.event_ids.append(event.event_id)
