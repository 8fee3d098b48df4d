"""State stops growing once history is longer than what the scorecard reaches back.

A simulated org's year is fed day by day through the planner, as the worker does
(each new day scores every rep and deletes what no window reaches any more); the
state table's size per rep, as the worker would write it, is measured on the way.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson

from schemas.events import TOPIC_OF_EVENT_TYPE
from schemas.scorecard_definition import load_definition
from scorers.calendar import from_date
from scorers.intake import Message
from scorers.rep_scoring import Layout
from scorers.state import RepState
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator
from streams.worker import codec
from streams.worker.memory import Memory
from tests.streams.worker.planning import plan_into

DEFINITION = load_definition()
DAYS = 3 * DEFINITION.history_days() + 30  # three times the longest reach, and then some


def state_bytes(state: RepState) -> int:
    """What the rep's records weigh in the state table (keys and values)."""
    total = len(codec.encode_profile(state.rep_profile)) + len(codec.encode_rules(state.rules))
    total += sum(len(codec.encode_bucket(b)) + 30 for b in state.buckets.values())
    total += sum(len(codec.encode_deal(d)) + 40 for d in state.deals.values())
    return total


def test_state_per_rep_stops_growing_after_the_longest_reach() -> None:
    end = datetime(2026, 6, 1, tzinfo=UTC)
    events = Simulator(SimulationConfig(seed=2, teams=2, reps_per_team=3)).backfill(DAYS, end)
    by_day: dict[str, list[bytes]] = defaultdict(list)
    for event in events:
        by_day[event.occurred_at.astimezone(UTC).date().isoformat()].append(
            event.model_dump_json(exclude_none=True).encode()
        )
    layout, memory = Layout.of(DEFINITION), Memory()
    sizes: list[float] = []
    for offset, (day, lines) in enumerate(sorted(by_day.items())):
        now = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=23)
        messages = []
        for line in lines:
            body = orjson.loads(line)
            topic = TOPIC_OF_EVENT_TYPE[body["event_type"]]
            messages.append(Message(body["rep_id"].encode(), line, topic, 0, offset))
        plan = plan_into(layout, memory, messages, now)
        assert not [d for d in plan.dead_letters if d.letter.reason != "too_late"]
        sizes.append(sum(map(state_bytes, memory.states.values())) / len(memory.states))
    kept = DEFINITION.history_days() + DEFINITION.allowed_lateness_days
    oldest = min(d for s in memory.states.values() for d in s.buckets)
    assert oldest >= from_date(end.date()) - kept - 1  # nothing older than the floor is kept
    # Once history is longer than the reach, the state holds steady (activity varies a little).
    plateau = sizes[kept + 20 :]
    assert max(plateau) < 1.3 * min(plateau), (min(plateau), max(plateau))
    assert sizes[-1] < 1.3 * sizes[kept + 20]
