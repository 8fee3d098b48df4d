"""The worker's imperative shell: read once, call the planner, apply its plan as it is.

Per batch of CRM messages (and per tick of the timer: a batch with no messages) it asks
``progress.Pace`` what the batch is to do, calls ``scorers.planner.plan_batch`` with the
reps' state held in memory, and applies the plan's effects in one pass per store: the
state table (its changelog), memory, one Redis pipeline, the producer's sends. The
batcher acks the messages after this returns, so a crash anywhere in here redelivers the
batch, and every write is one a redelivery can repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import structlog

from schemas.outputs import CoachingAlert
from scorers.clock import ClockMode
from scorers.intake import Message
from scorers.planner import BatchPlan, plan_batch, plan_load, sent
from scorers.rep_scoring import Layout
from sinks.redis_scorecards import RedisScorecardSink
from streams.worker.memory import Memory
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import Outputs, Send, Topics, delivered
from streams.worker.progress import Consumer, Lag, Pace
from streams.worker.state_table import StateStore

log = structlog.get_logger()


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
        self.layout, self.store, self.sink, self.metrics, self.now = (
            layout,
            store,
            sink,
            metrics,
            now,
        )
        self.outputs = Outputs(send, topics, metrics)
        self.memory = Memory()
        self.pace = Pace(mode, topics.inputs, consumer, behind_s)

    def use(self, layout: Layout) -> None:
        """Put a new definition version in force (between batches): the next batch or tick
        scores every rep again from the state kept."""
        old, self.layout = self.layout, layout
        moved = (old.all_windows, old.lookbacks) != (layout.all_windows, layout.lookbacks)
        self.memory.definition_changed(layout.windows, moved)

    def forget(self) -> None:
        """Partitions moved: drop what belonged to them; they are read again."""
        self.memory.clear()
        self.pace.reset()

    def redis_lost(self) -> None:
        log.warning("redis_lost_data", reps=len(self.memory.states), fix="rewriting every card")
        self.memory.redis_lost = True

    def lag(self) -> Lag:
        return self.pace.lag()

    def waiting(self, next_offsets: Mapping[tuple[str, int], int]) -> bool:
        return self.pace.waiting(next_offsets)

    def needs_tick(self) -> bool:
        return self.pace.needs_tick(self.memory, self.layout, self.now())

    async def load(self, partitions: set[int]) -> None:
        """Read newly assigned partitions' state, then do what ``plan_load`` says."""
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
        plan = plan_load(memory.states, self.layout.windows, memory.previous.keys())
        memory.previous.update(await self.sink.read_cards(plan.card_keys))
        memory.rescore_all = True
        await self._send_alerts(plan.resend)

    async def handle(self, messages: Sequence[Message]) -> None:
        """One batch (no messages: a tick); see the module's docstring."""
        await self.load(self.pace.assigned())
        memory = self.memory
        memory.forget_cards_if_redis_lost()
        now = self.now()
        inp = self.pace.batch(messages, memory, self.layout, now)
        plan = plan_batch(self.layout, inp, memory.states, memory.totals, memory.previous)
        await self._apply(plan, now)
        self.pace.done(inp)
        if plan.scored_all:
            caught_up = self.pace.progress.caught_up
            log.info("rescored", reps=len(plan.scored), as_of=plan.as_of, caught_up=caught_up)

    async def _apply(self, plan: BatchPlan, now: datetime) -> None:
        metrics = self.metrics
        deliveries = await self.outputs.dead_letters(plan.dead_letters)
        metrics.duplicates.inc(plan.duplicates)
        for rep_id, trace in plan.failures:
            metrics.internal_errors.inc()
            log.error("scoring_failed", rep_id=rep_id, traceback=trace)
        for write in plan.state_writes:
            await self.store.write(write.partition, write.writes)
            metrics.state_records.inc(write.writes.records())
        for clock in plan.clock_writes:
            await self.store.write_clock(clock.partition, clock.source, clock.day)
        # Sent before Redis is written: Kafka confirms them meanwhile, not after.
        deliveries += await self.outputs.scores(plan.score_events, plan.team_updates)
        updated_at = now.isoformat(timespec="milliseconds")
        metrics.scorecards.inc(await self.sink.write(plan.cards, updated_at))
        await self.sink.write_directory(plan.directory)
        if plan.scored:
            metrics.batch_reps.observe(len(plan.scored))
            metrics.scoring_cpu.inc(plan.score_s)
            metrics.planning_cpu.inc(plan.scoring_s)
        done_s = time.time()
        for arrived_s in self.memory.absorb(plan):
            metrics.latency.observe(max(0.0, done_s - arrived_s))
        await self._send_alerts(plan.alerts)
        await delivered(deliveries)

    async def _send_alerts(self, alerts: Mapping[str, Sequence[CoachingAlert]]) -> None:
        """Send every rep's alerts, then take them out of the reps' outboxes (the pages' copy
        too): one wait for Kafka and one Redis pipeline for them all, not one per rep."""
        if not alerts:
            return
        await self.outputs.alerts(alerts)
        # The pages' copy, after Kafka has them.
        await self.sink.append_alerts([a for fired in alerts.values() for a in fired])
        for rep_id, fired in alerts.items():
            state = self.memory.states[rep_id]
            cleared = sent(state, {a.alert_id for a in fired})
            if cleared is not None:
                await self.store.write(self.memory.partition_of[rep_id], cleared)
                state.apply(cleared)
