"""The worker's loop without Kafka or Redis: plan a batch, then absorb it, as the shell does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scorers.calendar import from_date
from scorers.clock import ClockMode
from scorers.intake import Message
from scorers.planner import BatchInput, BatchPlan, plan_batch
from scorers.rep_scoring import Layout
from streams.worker.memory import Memory


def plan_into(
    layout: Layout,
    memory: Memory,
    messages: Sequence[Message],
    now: datetime,
    *,
    mode: ClockMode = ClockMode.EVENT,
) -> BatchPlan:
    """One batch handled as a caught-up worker does: scored, rules run, memory updated."""
    inp = BatchInput(
        messages=messages,
        now=now,
        today=from_date(now.date()),
        mode=mode,
        clock=memory.clock,
        carried=memory.dirty,
        scored_as_of=memory.scored_as_of,
        rescore_all=memory.rescore_all,
        new_definition=memory.new_definition,
    )
    plan = plan_batch(layout, inp, memory.states, memory.totals, memory.previous)
    memory.absorb(plan)
    return plan
