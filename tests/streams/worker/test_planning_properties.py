"""Properties of the planner as the worker runs it, batch after batch, in memory.

Each plan is absorbed by the worker's ``Memory`` exactly as the shell does after
writing it, so what is checked is the whole loop without Kafka or Redis: a batch
planned in two halves equals the batch planned whole; a redelivered batch plans no
new effect; and a crash that kept any subset of a batch's state writes, followed by
the batch's redelivery, leaves exactly the state of handling each event once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import TOPIC_OF_EVENT_TYPE
from scorers.intake import Message
from scorers.planner import BatchPlan
from scorers.rep_scoring import Layout
from scorers.state import RepState, RepWrites
from streams.worker.memory import Memory
from tests.scorers.test_replay_properties import DEFINITION, logs
from tests.streams.worker.planning import plan_into

LAYOUT = Layout.of(DEFINITION)
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)  # the generated logs end on 2026-03-11
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def messages(log: list[bytes]) -> list[Message]:
    out = []
    for offset, line in enumerate(log):
        body = orjson.loads(line)
        topic = TOPIC_OF_EVENT_TYPE[body["event_type"]]
        out.append(Message(body["rep_id"].encode(), line, topic, 0, offset, NOW.timestamp()))
    return out


def run(memory: Memory, batch: list[Message]) -> BatchPlan:
    return plan_into(LAYOUT, memory, batch, NOW)


def cards(memory: Memory) -> dict[tuple[str, str], object]:
    return {key: card for key, card in memory.previous.items()}


@SETTINGS
@given(log=logs(), data=st.data())
def test_a_batch_planned_in_two_halves_equals_the_batch_planned_whole(
    log: list[bytes], data: st.DataObject
) -> None:
    batch = messages(log)
    cut = data.draw(st.integers(0, len(batch)))
    whole, halves = Memory(), Memory()
    run(whole, batch)
    run(halves, batch[:cut])
    run(halves, batch[cut:])
    # Coaching rules are left out: they run on each batch's state, and a half is a state
    # the whole batch never shows.
    assert _values(halves.states, rules=False) == _values(whole.states, rules=False)
    assert halves.clock.as_of == whole.clock.as_of
    assert cards(halves) == cards(whole)


@SETTINGS
@given(log=logs())
def test_a_redelivered_batch_plans_no_new_effect(log: list[bytes]) -> None:
    memory = Memory()
    batch = messages(log)
    first = run(memory, batch)
    states = dict(memory.states)
    again = run(memory, batch)
    assert again.touched == {}
    assert again.cards == () and again.score_events == () and again.team_updates == ()
    assert again.alerts == {}
    assert [d.letter.reason for d in again.dead_letters] == [
        d.letter.reason for d in first.dead_letters
    ]
    assert memory.states == states


def records(writes: list[RepWrites]) -> list[RepWrites]:
    """A plan's writes as single table records: what a crash can keep any subset of."""
    out = []
    for w in writes:
        out += [RepWrites(w.rep_id, buckets={d: b}) for d, b in w.buckets.items()]
        out += [RepWrites(w.rep_id, deals={k: v}) for k, v in w.deals.items()]
        if w.profile is not None:
            out.append(RepWrites(w.rep_id, profile=w.profile))
        if w.rules is not None:
            out.append(RepWrites(w.rep_id, rules=w.rules))
    return out


@SETTINGS
@given(log=logs(), data=st.data())
def test_any_subset_of_a_batchs_writes_then_its_redelivery_gives_the_exact_state(
    log: list[bytes], data: st.DataObject
) -> None:
    """The worker dies after an arbitrary subset of a batch's table writes reached the
    changelog; a new worker restores the tables (that subset on top of what was there)
    and the batch is delivered again. Its state must be exactly as if nothing happened."""
    batch = messages(log)
    cut = data.draw(st.integers(0, len(batch)))
    before, rest = batch[:cut], batch[cut:]

    intact = Memory()
    run(intact, before)
    base = {rep: _copy(state) for rep, state in intact.states.items()}
    plan = run(intact, rest)

    written = records([w.writes for w in plan.state_writes])
    kept = data.draw(st.lists(st.sampled_from(written), unique_by=id)) if written else []
    restored = Memory()
    restored.states = {rep: _copy(state) for rep, state in base.items()}
    for record in kept:
        restored.states.setdefault(record.rep_id, RepState(record.rep_id)).apply(record)
    restored.partition_of = dict.fromkeys(restored.states, 0)  # as a load records them
    restored.clock = intact.clock  # the clock's own records are max-by-day, kept or not
    run(restored, rest)
    assert _values(restored.states) == _values(intact.states)


def _copy(state: RepState) -> RepState:
    return RepState(
        state.rep_id, state.rep_profile, dict(state.buckets), dict(state.deals), state.rules
    )


def _values(states: dict[str, RepState], *, rules: bool = True) -> dict[str, object]:
    """The state as the scores see it: a bucket's ids as a set (their order is the order
    the events happened to be folded in, which a redelivery may change)."""

    def ids(raw: bytes) -> frozenset[bytes]:
        return frozenset(raw[i : i + 16] for i in range(0, len(raw), 16))

    return {
        rep: (
            s.rep_profile,
            {d: (b.counters, ids(b.ids)) for d, b in s.buckets.items()},
            s.deals,
            s.rules.states if rules else None,
        )
        for rep, s in states.items()
    }
