"""A new definition version in the worker's core: every rep scored again from the state kept
equals the replay of the whole log under the new definition (no Kafka, no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.events import TOPIC_OF_EVENT_TYPE
from schemas.outputs import ScorecardUpdated
from schemas.scorecard_definition import ScorecardDefinition, load_definition, parse_definition
from scorers.intake import Message
from scorers.rep_scoring import Layout
from scorers.replay import Replay
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator
from streams.worker.memory import Memory
from tests.streams.worker.planning import plan_into

OLD = load_definition()
END = datetime(2026, 6, 1, tzinfo=UTC)
NOW = END + timedelta(hours=12)


def new_definition(**changes: Any) -> ScorecardDefinition:
    data = OLD.model_dump(mode="json")
    data["perspectives"]["customer"]["weight"] = 0.5
    data["kpis"]["calls_logged"]["target"] = {"per_day": 4}
    data["kpis"]["win_rate"]["weight"] = 0.6
    data.update(changes)
    return parse_definition(data)


def log() -> list[bytes]:
    events = Simulator(SimulationConfig(seed=4, teams=2, reps_per_team=3)).backfill(40, END)
    return [e.model_dump_json(exclude_none=True).encode() for e in events]


def messages(lines: list[bytes]) -> list[Message]:
    out = []
    for offset, line in enumerate(lines):
        body = orjson.loads(line)
        topic = TOPIC_OF_EVENT_TYPE[body["event_type"]]
        out.append(Message(body["rep_id"].encode(), line, topic, 0, offset, NOW.timestamp()))
    return out


def replayed(definition: ScorecardDefinition, lines: list[bytes]) -> dict[tuple[str, str], Any]:
    engine = Replay(definition, now=NOW)
    for n, line in enumerate(lines, 1):
        engine.feed(n, line)
    return {(c.rep_id or "", c.window): c for c in engine.result().scorecards}


def switched(new: ScorecardDefinition) -> tuple[Memory, Any, list[bytes]]:
    """Fold and score the log under version 1, then put ``new`` in force as the shell does
    (``Shell.use``) and tick: the plan of the rescore."""
    lines = log()
    memory, old = Memory(), Layout.of(OLD, 1)
    plan_into(old, memory, messages(lines), NOW)
    assert {c.definition_version for c in memory.previous.values()} == {1}
    layout = Layout.of(new, 2)
    moved = (old.all_windows, old.lookbacks) != (layout.all_windows, layout.lookbacks)
    memory.definition_changed(layout.windows, moved)
    return memory, plan_into(layout, memory, [], NOW), lines


@pytest.mark.parametrize("windows", [None, ["7d", "14d", "30d", "month"]])
def test_every_rep_is_scored_again_and_equals_the_replay_under_the_new_version(
    windows: list[str] | None,
) -> None:
    """New weights and targets (and, second case, other windows): every card carries
    version 2 and equals `replay --scorecard NEW` KPI for KPI; cards that moved without an
    event name the definition as their cause."""
    new = new_definition(**({} if windows is None else {"windows": windows}))
    memory, plan, lines = switched(new)
    assert plan.scored_all
    want = replayed(new, lines)
    got = {(u.card.rep_id or "", u.card.window): u.card for u in plan.cards}
    assert set(got) == set(want)
    for key, card in want.items():
        mine = got[key]
        assert mine.definition_version == 2
        assert mine.overall == pytest.approx(card.overall, abs=1e-9), key
        assert mine.kpis == card.kpis, key
    events = [ScorecardUpdated.model_validate_json(e.value) for e in plan.score_events]
    assert events and {e.definition_version for e in events} == {2}
    assert {e.cause.kind for e in events} == {"definition"}
    assert {w for _, w in memory.previous} == set(new.windows)  # no card of a dropped window
    assert not memory.new_definition and not memory.rescore_all


def test_totals_are_kept_when_the_windows_stay_and_rebuilt_when_they_move() -> None:
    lines = log()
    memory, old = Memory(), Layout.of(OLD, 1)
    plan_into(old, memory, messages(lines), NOW)
    assert memory.totals
    memory.definition_changed(old.windows, windows_moved=False)
    assert memory.totals and memory.rescore_all and memory.new_definition
    memory.definition_changed(["7d"], windows_moved=True)
    assert not memory.totals
    assert {w for _, w in memory.previous} == {"7d"}


def test_alerts_carry_the_version_whose_rule_fired() -> None:
    """Version 2 adds a rule every active rep meets (calls over 30 days above zero)."""
    rule = {
        "kind": "threshold", "severity": "info", "kpi": "calls_logged", "window": "30d",
        "above": 0, "text": "Calls logged.",
    }  # fmt: skip
    new = new_definition(alerts={**OLD.model_dump(mode="json")["alerts"], "calling": rule})
    _, plan, _ = switched(new)
    fired = [a for alerts in plan.alerts.values() for a in alerts if a.rule == "calling"]
    assert fired and {a.definition_version for a in fired} == {2}
