"""The worker's imperative shell: read once, call the planner, write once per store.

Per batch of CRM messages (and per tick of the timer: a batch with no messages)
it takes the reps' state from memory, decides whether to score now, calls
``scorers.planner.plan_batch``, and applies the plan: the state table (its
changelog), memory, one Redis pipeline, the producer's sends. The batcher acks the
messages after this returns, so a crash anywhere in here redelivers the batch, and
every write is one a redelivery can repeat.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from scorers.calendar import Day, day_of
from scorers.clock import ClockMode, advanced
from scorers.intake import Message
from scorers.planner import BatchInput, BatchPlan, plan_batch, sent
from scorers.rep_scoring import Layout
from sinks.redis_scorecards import RedisScorecardSink
from streams.worker.memory import AS_OF_SOURCE, Memory
from streams.worker.metrics import WorkerMetrics
from streams.worker.progress import Lag, Progress, TopicPartition, lag_of, lagging
from streams.worker.state_table import StateStore

log = structlog.get_logger()

SCORE_BEHIND_S = 5.0
"""While catching up, reps are scored (and Redis written) at most this often: those cards
would be stale before anyone read them, and scoring is most of a batch's cost."""

Send = Callable[[str, bytes, bytes], Awaitable[Awaitable[Any]]]
"""(topic, key, value) -> the delivery future, once the producer has the message."""


@dataclass(frozen=True, slots=True)
class Topics:
    inputs: Collection[str]
    dead_letters: str
    updates: str
    alerts: str
    teams: str


@dataclass(frozen=True, slots=True)
class Consumer:
    """What the shell asks of the consumer: its assignment, partitions' ends, the commits."""

    assigned: Callable[[], set[TopicPartition]]
    end: Callable[[TopicPartition], int | None]
    committed: Callable[[TopicPartition], int | None]


class Shell:
    def __init__(
        self,
        layout: Layout,
        mode: ClockMode,
        store: StateStore,
        sink: RedisScorecardSink,
        send: Send,
        topics: Topics,
        consumer: Consumer,
        metrics: WorkerMetrics,
        *,
        behind_s: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.layout = layout
        self.mode = mode
        self.store = store
        self.sink = sink
        self.send = send
        self.topics = topics
        self.consumer = consumer
        self.metrics = metrics
        self.now = now
        self.memory = Memory()
        self.progress = Progress(behind_s)
        self._last_scored_s = 0.0

    def use(self, layout: Layout) -> None:
        """Put a new definition version in force (between batches): the next batch or tick
        scores every rep again from the state kept."""
        old, self.layout = self.layout, layout
        moved = (old.all_windows, old.lookbacks) != (layout.all_windows, layout.lookbacks)
        self.memory.definition_changed(layout.windows, moved)

    def forget(self) -> None:
        """Partitions moved: drop what belonged to them; they are read again."""
        self.memory.clear()
        self.progress.reset()

    async def load(self, partitions: set[int]) -> None:
        """Read newly assigned partitions' state and the reps' cards in Redis, and send the
        alerts a worker before raised but may not have sent."""
        memory = self.memory
        new = partitions - memory.partitions
        if not new:
            return
        for partition in sorted(new):
            loaded = self.store.load(partition)
            memory.states.update(loaded.reps)
            memory.partition_of.update(dict.fromkeys(loaded.reps, partition))
            memory.restore_clock(loaded.clock)
            log.info("partition_loaded", partition=partition, reps=len(loaded.reps))
        memory.partitions |= new
        keys = [
            (rep, w) for rep in memory.states for w in self.layout.windows
            if (rep, w) not in memory.previous
        ]  # fmt: skip
        memory.previous.update(await self.sink.read_cards(keys))
        memory.rescore_all = True
        for state in list(memory.states.values()):
            if state.rules.outbox:
                await self._send_alerts(state.rep_id, list(state.rules.outbox))

    def lag(self, batch: Sequence[Message] = ()) -> Lag:
        """Unhandled messages per assigned input partition, counting ``batch`` as handled."""
        handled = self.progress.after(((m.topic, m.partition), m.offset) for m in batch)
        consumer = self.consumer
        return lag_of(
            self.topics.inputs, consumer.assigned(), handled, consumer.end, consumer.committed
        )

    def redis_lost(self) -> None:
        """Redis lost what the worker wrote: the next batch (or tick) writes every card of
        the worker's partitions again, in full, as if none had been written."""
        log.warning("redis_lost_data", reps=len(self.memory.states), fix="rewriting every card")
        self.memory.redis_lost = True

    def needs_tick(self) -> bool:
        """Whether a tick has anything to do (cheap: no lock, no I/O)."""
        memory, progress = self.memory, self.progress
        if memory.redis_lost:
            return True
        lag = self.lag()
        if progress.caught_up != all(n == 0 for n in lag.values()):
            return True  # catching up just ended (or began)
        if not (progress.caught_up or self._scoring_due()):
            return False
        return (
            bool(memory.dirty)
            or memory.rescore_all
            or self._as_of_now(lag) != (memory.scored_as_of)
        )

    async def handle(self, messages: Sequence[Message]) -> None:
        """One batch (no messages: a tick); see the module's docstring."""
        await self.load({p for topic, p in self.consumer.assigned() if topic in self.topics.inputs})
        memory, progress = self.memory, self.progress
        if memory.redis_lost:  # every card again, with nothing to diff against
            memory.previous.clear()
            memory.redis_lost, memory.rescore_all = False, True
        handled = progress.after(((m.topic, m.partition), m.offset) for m in messages)
        lag = self.lag(messages)
        newest = max((m.timestamp for m in messages if m.timestamp is not None), default=None)
        just_caught_up = progress.update(handled, newest, lag)
        score = progress.caught_up or self._scoring_due()
        now = self.now()
        inp = BatchInput(
            messages=messages,
            now=now,
            today=day_of(now, self.layout.folder.zone),
            mode=self.mode,
            clock=memory.clock,
            lagging=lagging(lag),
            score=score,
            carried=memory.dirty,
            scored_as_of=memory.scored_as_of,
            rescore_all=memory.rescore_all or just_caught_up,
            rules=progress.caught_up,
            new_definition=memory.new_definition,
            cpu=time.process_time,
        )
        plan = plan_batch(self.layout, inp, memory.states, memory.totals, memory.previous)
        await self._apply(plan, messages, now)
        if score:
            self._last_scored_s = time.monotonic()
        if plan.scored_all:
            log.info(
                "rescored", reps=len(plan.scored), as_of=plan.as_of, caught_up=progress.caught_up
            )

    async def _apply(self, plan: BatchPlan, messages: Sequence[Message], now: datetime) -> None:
        memory, metrics = self.memory, self.metrics
        for rejected, letter in plan.dead_letters:
            message = rejected.message
            value = letter.model_dump_json().encode()
            await self.send(self.topics.dead_letters, message.key or b"", value)
            metrics.dead_letters.labels(letter.reason.value).inc()
            bound = log.bind(
                topic=message.topic, partition=message.partition, offset=message.offset
            )
            if rejected.trace is not None:
                bound.error("internal_error", detail=rejected.detail, traceback=rejected.trace)
            else:
                bound.warning("dead_letter", reason=letter.reason.value, detail=letter.detail)
        metrics.duplicates.inc(plan.duplicates)
        for rep_id, trace in plan.failures:
            metrics.internal_errors.inc()
            log.error("scoring_failed", rep_id=rep_id, traceback=trace)
        memory.partition_of.update(plan.partitions)
        for writes in plan.writes:
            await self.store.write(memory.partition_of[writes.rep_id], writes)
            metrics.state_records.inc(writes.records())
        await self._write_clock(plan)
        metrics.scorecards.inc(
            await self.sink.write(plan.cards, now.isoformat(timespec="milliseconds"))
        )
        await self.sink.write_directory(plan.directory)
        for key, value in plan.score_events:
            await self.send(self.topics.updates, key, value)
        for key, value in plan.team_updates:
            await self.send(self.topics.teams, key, value)
        if plan.scored:
            metrics.batch_reps.observe(len(plan.scored))
            metrics.scoring_cpu.inc(plan.scoring_s)
        done_s = time.time()
        for arrived_s in memory.absorb(plan):
            metrics.latency.observe(max(0.0, done_s - arrived_s))
        by_rep: dict[str, list[dict[str, object]]] = {}
        for alert in plan.alerts:
            by_rep.setdefault(str(alert["rep_id"]), []).append(alert)
        for rep_id, alerts in by_rep.items():
            await self._send_alerts(rep_id, alerts)

    async def _send_alerts(self, rep_id: str, alerts: list[dict[str, object]]) -> None:
        """Send a rep's alerts, wait until Kafka has them, then take them out of its outbox."""
        deliveries = [
            await self.send(self.topics.alerts, rep_id.encode(), orjson.dumps(a)) for a in alerts
        ]
        for delivery in deliveries:
            await delivery
        await self.sink.append_alerts(alerts)  # the pages' copy, after Kafka has them
        for alert in alerts:
            self.metrics.alerts.labels(str(alert["rule"])).inc()
            log.info("alert", alert_id=alert["alert_id"], rule=alert["rule"], rep_id=rep_id)
        state = self.memory.states[rep_id]
        cleared = sent(state, {str(a["alert_id"]) for a in alerts})
        if cleared is not None:
            await self.store.write(self.memory.partition_of[rep_id], cleared)
            state.apply(cleared)

    async def _write_clock(self, plan: BatchPlan) -> None:
        memory = self.memory
        old = memory.clock
        for source, day in plan.clock.latest.items():
            if old.latest.get(source) != day:
                await self.store.write_clock(int(source.rsplit("|", 1)[1]), source, day)
        if plan.clock.as_of is not None and plan.clock.as_of != old.as_of:
            for partition in memory.partitions:
                await self.store.write_clock(partition, AS_OF_SOURCE, plan.clock.as_of)

    def _as_of_now(self, lag: Lag) -> Day | None:
        """The as-of day a batch with no message would score for now."""
        today = day_of(self.now(), self.layout.folder.zone)
        if self.mode is ClockMode.WALL:
            return today
        return advanced(self.memory.clock, {}, lagging(lag), today).as_of

    def _scoring_due(self) -> bool:
        return time.monotonic() - self._last_scored_s >= SCORE_BEHIND_S
