"""How far the worker has got through its input partitions, and so when it scores.

A worker that is catching up (after a start, a restart, a rebalance or downtime, or
when it falls behind) sees state that is not final yet, so it raises no alerts and
scores only now and then; once every assigned input partition has been handled to
its end it is caught up, and stays so until the newest message it handled is older
than ``behind_s`` while messages wait (it fell behind), or its partitions move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from scorers.calendar import Day, day_of
from scorers.clock import ClockMode, as_of_day
from scorers.intake import Message
from scorers.planner import BatchInput
from scorers.rep_scoring import Layout
from streams.worker.memory import Memory

TopicPartition = tuple[str, int]
Lag = dict[TopicPartition, int | None]
"""Messages not yet handled per assigned input partition (None: its end is not known yet)."""

SCORE_BEHIND_S = 5.0
"""While catching up, reps are scored (and Redis written) at most this often: those cards
would be stale before anyone read them, and scoring is most of a batch's cost."""


class Fetched(NamedTuple):
    """Where a partition's fetches stand, as of the last one."""

    position: int
    """The consumer's next offset to return: past every record returned and every
    transaction marker or aborted record it passed over."""
    records_end: int
    """One past the last record returned since the last seek (0: none)."""


@dataclass(frozen=True, slots=True)
class Consumer:
    """What pacing asks of the consumer: its assignment, partitions' ends, the commits, and
    where its fetches stand."""

    assigned: Callable[[], set[TopicPartition]]
    end: Callable[[TopicPartition], int | None]
    """The end of what the consumer can read: the last stable offset, reading committed."""
    committed: Callable[[TopicPartition], int | None]
    fetched: Callable[[TopicPartition], Fetched | None] = lambda _: None


@dataclass(slots=True)
class Progress:
    behind_s: float
    handled: dict[TopicPartition, int] = field(default_factory=dict)
    """The next offset to handle per input partition (one past the last handled)."""
    caught_up: bool = False
    newest_s: float | None = None
    """Record time of the newest message handled (now, whenever nothing was unread)."""

    def reset(self) -> None:
        """Partitions moved: start over (not caught up)."""
        self.handled.clear()
        self.caught_up = False
        self.newest_s = None

    def after(self, batch: Iterable[tuple[TopicPartition, int]]) -> dict[TopicPartition, int]:
        """``handled`` once a batch of (partition, offset)s is handled too."""
        out = dict(self.handled)
        for tp, offset in batch:
            if offset + 1 > out.get(tp, 0):
                out[tp] = offset + 1
        return out

    def update(self, handled: dict[TopicPartition, int], newest_s: float | None, lag: Lag) -> bool:
        """Take a handled batch and the lag after it; True when the worker just caught up."""
        self.handled = handled
        if newest_s is not None and (self.newest_s is None or newest_s > self.newest_s):
            self.newest_s = newest_s
        return self.observe(lag)

    def observe(self, lag: Lag, now_s: float | None = None) -> bool:
        """Whether the worker is caught up, given ``lag``; True once, when it just caught up."""
        now_s = time.time() if now_s is None else now_s
        was = self.caught_up
        self.caught_up = self.caught_up_given(lag, now_s)
        if all(n == 0 for n in lag.values()):
            self.newest_s = now_s  # nothing unread: as current as can be
        return self.caught_up and not was

    def caught_up_given(self, lag: Lag, now_s: float) -> bool:
        """What ``observe`` would decide, deciding nothing: caught up once nothing is unread,
        behind once the newest message handled is over ``behind_s`` old while some is."""
        if all(n == 0 for n in lag.values()):
            return True
        if self.newest_s is not None and now_s - self.newest_s > self.behind_s:
            return False
        return self.caught_up


def lag_of(
    inputs: Collection[str], assigned: Iterable[TopicPartition],
    handled: Mapping[TopicPartition, int], consumer: Consumer,
) -> Lag:  # fmt: skip
    """Unhandled messages per assigned input partition: from the offset after the last
    handled (or where the group left a partition not handled since this worker got it) to
    the end the consumer last saw. Once every record fetched is handled, what lies between
    that offset and the consumer's position is transaction markers and aborted records: no
    message, and not counted."""
    out: Lag = {}
    for tp in assigned:
        if tp[0] not in inputs:
            continue
        high = consumer.end(tp)
        done = handled.get(tp)
        if done is None:
            done = consumer.committed(tp) or 0
        fetched = consumer.fetched(tp)
        if fetched is not None and done >= fetched.records_end:
            done = max(done, fetched.position)
        out[tp] = None if high is None else max(0, high - done)
    return out


def lagging(lag: Lag) -> set[str]:
    """The input partitions with unread messages, as the event clock names them."""
    return {f"{topic}|{partition}" for (topic, partition), n in lag.items() if n != 0}


class Pace:
    """The worker's decisions between the planner's calls: what a batch is to do (score or
    only fold, every rep or the changed ones, rules or not) and whether a tick has work."""

    def __init__(
        self, mode: ClockMode, inputs: Collection[str], consumer: Consumer, behind_s: float
    ) -> None:
        self.mode, self.inputs, self.consumer = mode, inputs, consumer
        self.progress = Progress(behind_s)
        self._last_scored_s = 0.0
        self._input_tps: tuple[TopicPartition, ...] | None = None
        """The assigned input partitions as ``lag`` last read them: ``waiting`` runs for
        many messages of a batch, and reading the assignment from faust costs more than
        the rest of it (a rebalance's ``reset`` drops it)."""

    def reset(self) -> None:
        """Partitions moved."""
        self.progress.reset()
        self._input_tps = None

    def assigned(self) -> set[int]:
        """The input partitions assigned (so the state partitions to load)."""
        return {p for topic, p in self.consumer.assigned() if topic in self.inputs}

    def lag(self, batch: Sequence[Message] = ()) -> Lag:
        """Unhandled messages per assigned input partition, counting ``batch`` as handled."""
        handled = self.progress.after(((m.topic, m.partition), m.offset) for m in batch)
        lag = lag_of(self.inputs, self.consumer.assigned(), handled, self.consumer)
        self._input_tps = tuple(lag)
        return lag

    def waiting(self, next_offsets: Mapping[TopicPartition, int]) -> bool:
        """Whether an input message waits beyond those handled and ``next_offsets`` (an open
        batch's): the consumer has seen a later offset of an assigned partition."""
        c = self.consumer
        tps = self._input_tps if self._input_tps is not None else c.assigned()
        handled = {**self.progress.handled, **next_offsets}
        return any(lag_of(self.inputs, tps, handled, c).values())

    def needs_tick(self, memory: Memory, layout: Layout, now: datetime) -> bool:
        """Whether a batch with no message has anything to do (cheap: no lock, no I/O)."""
        if memory.redis_lost:
            return True
        lag = self.lag()
        if self.progress.caught_up != self.progress.caught_up_given(lag, time.time()):
            return True  # catching up just ended (or began)
        if not (self.progress.caught_up or self._scoring_due()):
            return False
        as_of_now = self._as_of(memory, layout, lagging(lag), now)
        return bool(memory.dirty) or memory.rescore_all or as_of_now != memory.scored_as_of

    def batch(
        self, messages: Sequence[Message], memory: Memory, layout: Layout, now: datetime
    ) -> BatchInput:
        """What the planner is to do with ``messages`` (none: a tick), given the memory."""
        progress = self.progress
        handled = progress.after(((m.topic, m.partition), m.offset) for m in messages)
        lag = self.lag(messages)
        newest = max((m.timestamp for m in messages if m.timestamp is not None), default=None)
        just_caught_up = progress.update(handled, newest, lag)
        score = progress.caught_up or self._scoring_due()
        return BatchInput(
            messages=messages,
            now=now,
            today=day_of(now, layout.folder.zone),
            mode=self.mode,
            clock=memory.clock,
            lagging=lagging(lag),
            score=score,
            carried=memory.dirty,
            scored_as_of=memory.scored_as_of,
            rescore_all=memory.rescore_all or just_caught_up,
            rules=progress.caught_up,
            new_definition=memory.new_definition,
            partition_of=memory.partition_of,
            partitions=memory.partitions,
            cpu=time.process_time,
        )

    def done(self, inp: BatchInput) -> None:
        """A batch is written (its scoring too, if it scored)."""
        if inp.score:
            self._last_scored_s = time.monotonic()

    def _as_of(
        self, memory: Memory, layout: Layout, behind: Collection[str], now: datetime
    ) -> Day | None:
        """The as-of day a batch with no message would score for now."""
        today = day_of(now, layout.folder.zone)
        return as_of_day(self.mode, memory.clock, {}, behind, today)[1]

    def _scoring_due(self) -> bool:
        return time.monotonic() - self._last_scored_s >= SCORE_BEHIND_S
