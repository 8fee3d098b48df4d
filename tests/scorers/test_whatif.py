"""The what-if of a definition change, by hand on a small log; and why one fold serves both:
the state does not depend on weights, targets, KPIs, windows or rules."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.scorecard_definition import ScorecardDefinition, load_definition, parse_definition
from scorers.fold import fold_key
from scorers.replay import Replay
from scorers.whatif import what_if
from tests.scorers.builders import call, won
from tests.scorers.test_replay_properties import SETTINGS, logs


def definition(financial: float, internal: float, calls_target: float) -> ScorecardDefinition:
    """Two perspectives of one KPI each: deals won (target 2) and calls logged."""
    return parse_definition(
        {
            "name": "small",
            "windows": ["7d"],
            "default_monthly_quota": 10_000,
            "perspectives": {
                "financial": {"weight": financial},
                "internal_process": {"weight": internal},
            },
            "kpis": {
                "deals_won": {"perspective": "financial", "weight": 1, "target": {"absolute": 2}},
                "calls_logged": {
                    "perspective": "internal_process",
                    "weight": 1,
                    "target": {"absolute": calls_target},
                },
            },
        }
    )


OLD = definition(0.5, 0.5, calls_target=4)
NEW = definition(0.8, 0.2, calls_target=2)


def small_log() -> list[bytes]:
    """ana: 2 deals, no call; bob: 1 deal, 4 calls; cyd: 2 calls; dan: 1 deal, 2 calls."""
    events = [
        won("2026-06-08", "a1", 100, "2026-06-01", rep="ana"),
        won("2026-06-09", "a2", 100, "2026-06-01", rep="ana"),
        won("2026-06-09", "b1", 100, "2026-06-01", rep="bob"),
        *(call("2026-06-10", rep="bob") for _ in range(4)),
        *(call("2026-06-10", rep="cyd") for _ in range(2)),
        won("2026-06-10", "d1", 100, "2026-06-01", rep="dan"),
        *(call("2026-06-10", rep="dan") for _ in range(2)),
    ]
    return [e.model_dump_json().encode() for e in events]


def near(score: float | None) -> float | None:
    """A score to 9 places: sums of floats land a hair from the hand-computed value."""
    return None if score is None else round(score, 9)


def test_ranks_changes_and_movers_computed_by_hand() -> None:
    """Attainments (deals/2, calls/target, capped at 1.2; perspectives at 100):

    rep  deals calls  OLD (0.5/0.5, calls/4)      NEW (0.8/0.2, calls/2)
    ana    1.0   0    .5*1 + .5*0   = 50  (#2)    .8*1  + .2*0   = 80 (#1)
    bob    0.5   1    .5*.5 + .5*1  = 75  (#1)    .8*.5 + .2*1   = 60 (#2, uncapped 64)
    cyd    0     .5   .5*0 + .5*.5  = 25  (#4)    .8*0  + .2*1   = 20 (#4)
    dan    0.5   .5   .5*.5 + .5*.5 = 50  (#3)    .8*.5 + .2*1   = 60 (#3, uncapped 60)

    ana and dan tie at 50 under OLD (uncapped 50 each): the lower id first. Under NEW bob
    and dan tie at 60; bob's calls are 2x target (uncapped 1.2*.2 = .24): bob first.
    Internal process moves for cyd and dan (50 -> 100), for nobody else (ana 0, bob 100).
    """
    result = what_if(OLD, NEW, small_log(), window="7d")
    assert result.as_of == date(2026, 6, 10).toordinal()
    assert result.folds == 1
    rows = [(r.rep_id, r.old_rank, r.new_rank, near(r.old), near(r.new), r.places)
            for r in result.reps]  # fmt: skip
    assert rows == [
        ("ana", 2, 1, 50.0, 80.0, 1),
        ("bob", 1, 2, 75.0, 60.0, -1),
        ("dan", 3, 3, 50.0, 60.0, 0),
        ("cyd", 4, 4, 25.0, 20.0, 0),
    ]
    moved = {
        r.rep_id: {name: (near(a), near(b)) for name, (a, b) in r.perspectives.items()}
        for r in result.reps
    }
    assert moved == {
        "ana": {},
        "bob": {},
        "cyd": {"internal_process": (50.0, 100.0)},
        "dan": {"internal_process": (50.0, 100.0)},
    }
    assert [r.rep_id for r in result.movers(up=True)] == ["ana"]
    assert [r.rep_id for r in result.movers(up=False)] == ["bob"]
    assert [(c.kind, c.path, c.old, c.new) for c in result.changes] == [
        ("weight", "perspectives.financial.weight", 0.5, 0.8),
        ("weight", "perspectives.internal_process.weight", 0.5, 0.2),
        ("target", "kpis.calls_logged.target", {"absolute": 4.0}, {"absolute": 2.0}),
    ]
    body = result.to_dict()
    assert (body["movers_up"], body["movers_down"], body["as_of"]) == (["ana"], ["bob"],
                                                                        "2026-06-10")  # fmt: skip
    assert (near(body["reps"][0]["old"]["overall"]), body["reps"][0]["old"]["rank"]) == (50.0, 2)


def test_definitions_that_fold_differently_are_replayed_twice_and_compared_on_one_day() -> None:
    """Another zone moves bob's late-evening calls to the next day: the log is replayed under
    each definition; both are scored as of the first replay's day."""
    tokyo = NEW.model_copy(update={"timezone": "Asia/Tokyo"})
    log = [*small_log(), call("2026-06-10T20:00:00+00:00", rep="bob").model_dump_json().encode()]
    result = what_if(OLD, tokyo, log, window="7d")
    assert result.folds == 2
    assert result.as_of == date(2026, 6, 10).toordinal()
    bob = next(r for r in result.reps if r.rep_id == "bob")
    assert bob.old == pytest.approx(75.0)  # 5 calls capped at 1.2x: internal still 100
    assert result.changes[-1].path == "timezone"


def test_an_empty_log_has_nothing_to_score() -> None:
    result = what_if(OLD, NEW, [b"", b"not json"], window="7d")
    assert (result.as_of, result.reps, result.rejected) == (None, [], (1, 1))


def test_the_fold_reads_only_zone_currency_fx_and_max_future_from_a_definition() -> None:
    """What ``fold_key`` leaves out really is left out (a guard for new definition fields)."""
    default = load_definition()
    assert fold_key(default) == ("UTC", "USD", (("EUR", 1.08), ("GBP", 1.27)), 1.0)
    assert fold_key(NEW) == fold_key(OLD)
    assert fold_key(default.model_copy(update={"max_future_days": 2.0})) != fold_key(default)


def other_definition() -> ScorecardDefinition:
    """The shipped scorecard with every weight, target, window and rule changed, same fold."""
    data: dict[str, Any] = load_definition().model_dump(mode="json")
    data["windows"] = ["14d", "month"]
    data["alerts"] = {}
    data["allowed_lateness_days"] = 30
    for kpi in data["kpis"].values():
        kpi["weight"] *= 3
        kpi["target"] = {"absolute": 7.5}
        kpi["min_samples"] = 1
    del data["kpis"]["nps"]
    data["perspectives"]["financial"]["weight"] = 0.9
    return parse_definition(data)


DEFAULT, OTHER = load_definition(), other_definition()


@SETTINGS
@given(log=logs(), data=st.data())
def test_the_state_is_the_same_under_any_weights_targets_windows_and_rules(
    log: list[bytes], data: st.DataObject
) -> None:
    """Fold a random log under two definitions with one fold key: every rep's buckets, deals
    and profile are equal, so scoring one state under the new definition is exact."""
    assert fold_key(DEFAULT) == fold_key(OTHER)
    as_of = data.draw(st.sampled_from([None, date(2026, 2, 20)]))
    states = []
    for definition in (DEFAULT, OTHER):
        engine = Replay(definition, as_of)
        for n, line in enumerate(log, 1):
            engine.feed(n, line)
        states.append(
            {rep: (s.buckets, s.deals, s.rep_profile, s.rules) for rep, s in engine.stores.items()}
        )
    assert states[0] == states[1]


def test_scoring_the_one_fold_under_new_equals_replaying_under_new() -> None:
    """The what-if's NEW side is exactly `replay --scorecard NEW`."""
    engine = Replay(NEW)
    for n, line in enumerate(small_log(), 1):
        engine.feed(n, line)
    replayed = {c.rep_id: c.overall for c in engine.result(["7d"]).scorecards}
    result = what_if(OLD, NEW, small_log(), window="7d")
    assert {r.rep_id: r.new for r in result.reps} == replayed
    assert orjson.dumps(result.to_dict())  # JSON-ready
