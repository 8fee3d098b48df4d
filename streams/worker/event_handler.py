"""One CRM message through the worker: decode, fold into the rep's state, score, write out.

Bad input never stops the worker: a message that does not decode or validate, whose
key is not its rep, in a currency without a rate, or too late for the kept state, is
dead-lettered with the reason and counted. Everything else is folded exactly once
(redeliveries are recognised by event id), so at-least-once delivery is safe.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import structlog

from schemas.dead_letter import DeadLetter
from schemas.events import parse_event
from schemas.exceptions import EventError
from schemas.outputs import Cause
from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day
from scorers.changes import change
from scorers.exceptions import RejectedEvent
from scorers.fold import Folder, Outcome
from scorers.rep_scoring import RepScoring, ScoredRep
from sinks.redis_scorecards import RedisScorecardSink
from streams.worker.alerting import Alerting
from streams.worker.clock import Clock, ClockMode
from streams.worker.metrics import WorkerMetrics
from streams.worker.score_events import CardHistory, score_event
from streams.worker.table_store import StateTables, TableRepStore

log = structlog.get_logger()

Send = Callable[[bytes, bytes], Awaitable[None]]
"""Produce (key, value) to a topic through the worker's own producer."""


@dataclass(frozen=True, slots=True)
class Senders:
    """Where the handler's output goes besides Redis, one topic each."""

    dead_letter: Send
    team_update: Send
    update: Send


@dataclass(slots=True)
class _Touched:
    """A rep folded into in the current batch: its store and the events that moved it."""

    store: TableRepStore
    context: contextvars.Context
    """Captured while folding one of the rep's messages (faust's current event): the
    rep's table writes go to that message's changelog partition."""
    event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Message:
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp: float | None
    """The Kafka record timestamp in seconds (producer time), for latency."""


class EventHandler:
    def __init__(
        self,
        definition: ScorecardDefinition,
        tables: StateTables,
        clock: Clock,
        scoring: RepScoring,
        sink: RedisScorecardSink,
        history: CardHistory,
        alerting: Alerting,
        send: Senders,
        metrics: WorkerMetrics,
    ) -> None:
        self.folder = Folder(definition)
        self.tables = tables
        self.clock = clock
        self.scoring = scoring
        self.sink = sink
        self.history = history
        self.alerting = alerting
        self.send = send
        self.metrics = metrics
        self._touched: dict[str, _Touched] = {}
        """Reps the current batch folded events into, in the order first touched."""
        self._waiting: list[float] = []
        """Record timestamps of handled events whose scorecards are not yet in Redis."""
        self.rescore_pending = True
        """Every rep must be scored again: at start (state may come from the changelog),
        after a rebalance, and when the event clock moved."""

    async def fold(self, msg: Message) -> None:
        """Decode and fold one message of a batch; dead-letter it when it can't be used.

        Nothing is scored yet: ``end_batch`` scores each rep the batch touched once, which
        is what keeps the worker ahead of a busy stream (a batch holds many events of the
        same reps).
        """
        if msg.timestamp is not None:
            self._waiting.append(msg.timestamp)
        bound = log.bind(topic=msg.topic, partition=msg.partition, offset=msg.offset)
        self.metrics.events_in.labels(msg.topic).inc()
        try:
            event = parse_event(msg.value or b"")
        except EventError as exc:
            await self._dead_letter(msg, "invalid", str(exc), bound)
            return
        bound = bound.bind(rep_id=event.rep_id, event_id=event.event_id)
        if msg.key is not None and msg.key != event.rep_id.encode():
            reason = f"key {msg.key!r} is not the event's rep_id {event.rep_id!r}"
            await self._dead_letter(msg, "wrong_key", reason, bound)
            return
        day = self.folder.day(event)
        as_of = self._as_of_with(day)
        rep = self._touched.get(event.rep_id)
        store = TableRepStore(self.tables, event.rep_id) if rep is None else rep.store
        self.scoring.prepare(store, as_of)
        try:
            result = self.folder.fold(
                store, event, not_before=self.folder.first_kept_day(as_of), day=day
            )
        except RejectedEvent as exc:
            kind = "too_late" if str(exc).startswith("too late") else "unusable"
            await self._dead_letter(msg, kind, str(exc), bound)
            return
        if result.outcome is Outcome.DUPLICATE:
            self.metrics.duplicates.inc()
            bound.debug("duplicate")
            return
        self.scoring.add(event.rep_id, as_of, result)
        self.alerting.last_active.folded(event.rep_id, result.changes)
        if self.clock.observe(day):
            self.tables.clock[f"p{msg.partition}"] = str(day).encode()
            self.rescore_pending = True
        if rep is None:
            rep = self._touched[event.rep_id] = _Touched(store, contextvars.copy_context())
        rep.event_ids.append(event.event_id)

    async def end_batch(self) -> None:
        """Score every rep the batch's events moved, once, and write out their cards."""
        touched, self._touched = self._touched, {}
        self.metrics.batch_reps.observe(len(touched))
        for rep in touched.values():
            rep.context.run(rep.store.write_back)
        as_of = self._as_of()
        if as_of is not None:
            for rep in touched.values():
                scored = self.scoring.score(rep.store, as_of)
                if scored is not None:
                    cause = Cause(kind="event", event_id=rep.event_ids[-1], event_ids=rep.event_ids)
                    await self.emit(rep.store, scored, cause)
        await self.flush()

    async def flush(self) -> None:
        """Write the buffered scorecards in one pipeline and raise the alerts that fired;
        the events behind them are done."""
        waiting, self._waiting = self._waiting, []
        await self.sink.flush()
        now = time.time()
        for timestamp in waiting:
            self.metrics.latency.observe(max(0.0, now - timestamp))
        for alert in await self.alerting.raise_fired():
            self.metrics.alerts.labels(alert.rule).inc()

    def forget(self) -> None:
        """Partitions moved: the batch's events will be redelivered; score everyone again."""
        self._touched.clear()
        self.rescore_pending = True

    def _as_of(self) -> Day | None:
        """Today, or the event clock (restored after a restart); None before any event."""
        return self.clock.as_of() or self.restore_event_clock()

    def _as_of_with(self, day: Day) -> Day:
        """The as-of day for an event of ``day``: today, or the event clock moved by it."""
        if self.clock.mode is ClockMode.WALL:
            today = self.clock.as_of()
            assert today is not None
            return today
        latest = self.clock.latest_event_day
        if latest is None:
            latest = self.restore_event_clock()
        return day if latest is None else max(latest, day)

    def restore_event_clock(self) -> Day | None:
        """After a restart the event clock resumes from the latest day in the clock table."""
        days = [int(v) for v in self.tables.clock.values()]
        if days:
            self.clock.observe(max(days))
        return self.clock.latest_event_day

    async def emit(self, store: TableRepStore, scored: ScoredRep, cause: Cause) -> None:
        """Write the rep's cards to Redis, publish the ones that changed, tell its team, and
        run the coaching rules."""
        previous = await self.history.previous(scored.cards)
        why = cause.model_dump(mode="json")
        for card, prev in zip(scored.cards, previous, strict=True):
            moved = change(prev, card)
            self.sink.add(card, moved)
            event = score_event(card, prev, moved, why)
            if event is not None:
                await self.send.update(scored.rep_id.encode(), event)
        self.history.remember(scored.cards)
        self.metrics.scorecards.inc(len(scored.cards))
        if scored.team_id is not None:
            update = {
                "team_id": scored.team_id,
                "rep_id": scored.rep_id,
                "as_of": scored.as_of,
                "inputs": {w: [list(i.totals), i.days, i.quota] for w, i in scored.inputs.items()},
            }
            await self.send.team_update(scored.team_id.encode(), orjson.dumps(update))
        left = {p.team_id for p in previous if p is not None} - {scored.team_id, None}
        for team in left:
            assert team is not None
            leave = {"team_id": team, "rep_id": scored.rep_id, "as_of": scored.as_of}
            await self.send.team_update(team.encode(), orjson.dumps(leave))
        await self.alerting.evaluate(store, scored)

    async def rescore_all(self) -> int:
        """Score every rep of this worker's partitions as of the current day; returns reps."""
        as_of = self._as_of()
        if as_of is None:
            return 0
        self.rescore_pending = False
        count = 0
        rollover = Cause(kind="day_rollover")
        for rep_id in list(self.tables.profiles.keys()):
            store = TableRepStore(self.tables, rep_id)
            scored = self.scoring.score(store, as_of)
            if scored is not None:
                await self.emit(store, scored, rollover)
                count += 1
        await self.flush()
        return count

    async def _dead_letter(
        self, msg: Message, kind: str, reason: str, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        letter = DeadLetter.of(
            msg.value,
            key=msg.key,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            reason=reason,
            failed_at=datetime.now(UTC),
        )
        await self.send.dead_letter(msg.key or b"", letter.model_dump_json().encode())
        self.metrics.dead_letters.labels(kind).inc()
        bound.warning("dead_letter", reason=reason)
