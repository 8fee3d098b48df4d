"""The worker's loop without Kafka or Redis: pace, plan a batch, then absorb it, as the shell
does (the same ``Pace`` builds the planner's input, so this cannot drift from the shell)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scorers.clock import ClockMode
from scorers.intake import Message
from scorers.planner import BatchPlan, plan_batch
from scorers.rep_scoring import Layout
from streams.worker.memory import Memory
from streams.worker.progress import Consumer, Pace

NOTHING_ASSIGNED = Consumer(set, lambda tp: None, lambda tp: None)
"""A consumer with no input partition: every batch leaves nothing unread (caught up)."""


def plan_into(
    layout: Layout,
    memory: Memory,
    messages: Sequence[Message],
    now: datetime,
    *,
    mode: ClockMode = ClockMode.EVENT,
) -> BatchPlan:
    """One batch handled as a caught-up worker does: scored, rules run, memory updated."""
    inp = Pace(mode, (), NOTHING_ASSIGNED, behind_s=5.0).batch(messages, memory, layout, now)
    plan = plan_batch(layout, inp, memory.states, memory.totals, memory.previous)
    memory.absorb(plan)
    return plan
