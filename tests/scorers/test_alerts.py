"""Coaching rules, hand-computed: each kind's condition, edge triggering, cooldown, stable ids."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pytest

from schemas.events import Event
from schemas.scorecard_definition import ScorecardDefinition, load_definition
from scorers.alerts import (
    RepFacts,
    alert_id,
    idle_days,
    inactivity_kpis,
    inactivity_lookback_days,
    last_active,
    lookbacks,
    observe,
    rule_windows,
    step,
)
from scorers.evaluate import evaluate
from scorers.fold import Folder
from scorers.scoring import Scorecard
from scorers.state import RuleState
from tests.scorers.builders import call, directory, nps, opened, states_of, won

DEFINITION = load_definition()


def d(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def cards_for(
    events: list[Event], as_of: str, definition: ScorecardDefinition = DEFINITION
) -> dict[str, Scorecard]:
    states = states_of(Folder(definition), events)
    windows = [*definition.windows, *rule_windows(definition)]
    result = evaluate(definition, states.values(), d(as_of), windows)
    return {c.window: c for c in result.reps}


def facts(cards: Mapping[str, Scorecard], as_of: str, **kw: object) -> RepFacts:
    return RepFacts("ana", "north", d(as_of), cards, monthly_quota=60_000, **kw)  # type: ignore[arg-type]


def test_default_rules_need_the_month_window_and_a_week_lookback() -> None:
    """target_hit and behind_pace look at the calendar month; score_drop at 7 days earlier."""
    assert rule_windows(DEFINITION) == ["month"]
    assert lookbacks(DEFINITION) == [("30d", 7)]
    assert inactivity_kpis(DEFINITION) == ["calls_logged"]


def test_nps_negative_needs_five_responses_below_zero() -> None:
    """Four detractors are not enough samples; the fifth makes NPS -100 with 5 responses."""
    rule = DEFINITION.alerts["nps_negative"]
    four = [nps(f"2026-05-0{i}", 2) for i in range(1, 5)]
    seen = observe(DEFINITION, rule, facts(cards_for(four, "2026-05-05"), "2026-05-05"))
    assert seen is not None and not seen.condition
    five = [*four, nps("2026-05-05", 3)]
    seen = observe(DEFINITION, rule, facts(cards_for(five, "2026-05-05"), "2026-05-05"))
    assert seen is not None and seen.condition
    assert seen.evidence == {"nps": -100.0, "samples": 5, "below": 0.0}


def test_fires_on_the_edge_then_stays_quiet_while_true() -> None:
    """false -> true fires once; staying true fires nothing; true again after false and the
    cooldown fires again."""
    rule = DEFINITION.alerts["nps_negative"]
    five = [nps(f"2026-05-0{i}", 2) for i in range(1, 6)]
    f = facts(cards_for(five, "2026-05-05"), "2026-05-05")
    alert, state = step("nps_negative", rule, RuleState(), observe(DEFINITION, rule, f), f)
    assert alert is not None and alert.severity == "warning" and alert.rep_id == "ana"
    assert state == RuleState(True, d("2026-05-05"))
    again, state = step("nps_negative", rule, state, observe(DEFINITION, rule, f), f)
    assert again is None and state.active
    cleared = facts(
        cards_for(five + [nps(f"2026-05-06T0{i}:00:00+00:00", 10) for i in range(6)], "2026-05-06"),
        "2026-05-06",
    )
    none, state = step("nps_negative", rule, state, observe(DEFINITION, rule, cleared), cleared)
    assert none is None and not state.active
    within_cooldown = facts(f.cards, "2026-05-08")
    none, state = step(
        "nps_negative", rule, state, observe(DEFINITION, rule, within_cooldown), within_cooldown
    )
    assert none is None and state.active  # true again, but 3 days after firing (cooldown 7)


def test_alert_id_is_deterministic_per_rep_rule_window_period() -> None:
    assert alert_id("ana", "nps_negative", "30d", "2026-05-05") == alert_id(
        "ana", "nps_negative", "30d", "2026-05-05"
    )
    assert alert_id("ana", "nps_negative", "30d", "2026-05-05") != alert_id(
        "bob", "nps_negative", "30d", "2026-05-05"
    )


def test_target_hit_on_the_monthly_quota() -> None:
    """Revenue for May reaches the rep's monthly quota (30,000) exactly."""
    events = [
        directory("2026-04-01", "north", quota=30_000),
        won("2026-05-20", "d1", 29_999, "2026-05-01"),
    ]
    rule = DEFINITION.alerts["target_hit"]
    seen = observe(
        DEFINITION,
        rule,
        RepFacts("ana", "north", d("2026-05-20"), cards_for(events, "2026-05-20"), 30_000),
    )
    assert seen is not None and not seen.condition and seen.period == "2026-05-01"
    events.append(won("2026-05-21", "d2", 1, "2026-05-01"))
    seen = observe(
        DEFINITION,
        rule,
        RepFacts("ana", "north", d("2026-05-21"), cards_for(events, "2026-05-21"), 30_000),
    )
    assert seen is not None and seen.condition
    assert seen.evidence["target"] == pytest.approx(30_000)


def test_behind_pace_prorates_the_quota_to_the_day() -> None:
    """On May 10 the pace is 10/31 of 31,000 = 10,000; 70% of it is 7,000."""
    rule = DEFINITION.alerts["behind_pace"]
    for revenue, behind in ((6_999, True), (7_001, False)):
        events = [won("2026-05-10", "d1", revenue, "2026-05-01")]
        seen = observe(
            DEFINITION,
            rule,
            RepFacts("ana", None, d("2026-05-10"), cards_for(events, "2026-05-10"), 31_000),
        )
        assert seen is not None and seen.condition is behind
        assert seen.evidence["pace_target"] == pytest.approx(10_000)


def test_score_drop_compares_with_seven_days_earlier() -> None:
    rule = DEFINITION.alerts["score_drop"]
    now = cards_for([won("2026-05-01", "d1", 1, "2026-04-01")], "2026-05-20")
    before = cards_for([won("2026-05-01", "d1", 90_000, "2026-04-01")], "2026-05-13")
    seen = observe(DEFINITION, rule, facts(now, "2026-05-20", earlier={("30d", 7): before["30d"]}))
    assert seen is not None and seen.condition
    assert seen.evidence["drop"] == pytest.approx(before["30d"].overall - now["30d"].overall)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("last", "as_of", "skip", "expected"),
    [
        ("2026-05-20", "2026-05-20", True, 0),
        ("2026-05-20", "2026-05-23", False, 3),
        ("2026-05-22", "2026-05-26", True, 2),  # Fri -> Tue: Mon and Tue count, the weekend not
        ("2026-05-22", "2026-05-26", False, 4),
    ],
)
def test_idle_days(last: str, as_of: str, skip: bool, expected: int) -> None:
    assert idle_days(d(last), d(as_of), skip) == expected


def test_no_calls_after_three_working_days() -> None:
    rule = DEFINITION.alerts["no_calls"]
    quiet = observe(
        DEFINITION, rule, facts({}, "2026-05-27", last_active={"calls_logged": d("2026-05-22")})
    )
    assert quiet is not None and quiet.condition and quiet.evidence["idle_days"] == 3
    busy = observe(
        DEFINITION, rule, facts({}, "2026-05-26", last_active={"calls_logged": d("2026-05-22")})
    )
    assert busy is not None and not busy.condition


def test_pace_is_not_judged_in_the_first_week() -> None:
    """On the 7th, no revenue is not yet "behind"; on the 8th it is."""
    rule = DEFINITION.alerts["behind_pace"]
    for day, behind in (("2026-05-07", False), ("2026-05-08", True)):
        cards = cards_for([directory("2026-05-01", "north", quota=31_000)], day)
        seen = observe(DEFINITION, rule, RepFacts("ana", None, d(day), cards, 31_000))
        assert seen is not None and seen.condition is behind


def test_a_new_rep_is_not_idle_before_it_started() -> None:
    """No calls yet, but the rep's first day was yesterday: one idle day, not a year."""
    assert idle_days(None, d("2026-05-27"), True, since=d("2026-05-26")) == 2
    assert idle_days(None, d("2026-05-27"), True) > 200


def test_last_active_day_looks_back_a_bounded_span() -> None:
    """The latest day with a call, within the look-back; None when there is none in it."""
    state = states_of(
        Folder(DEFINITION), [call("2026-05-04"), call("2026-05-20"), nps("2026-05-22", 9)]
    )["ana"]
    assert inactivity_lookback_days(DEFINITION) == 13
    assert last_active(state, "calls_logged", d("2026-05-25"), 13) == d("2026-05-20")
    assert last_active(state, "calls_logged", d("2026-06-10"), 13) is None


def test_last_active_counts_deals_decided_on_a_day() -> None:
    """An inactivity rule on a deal KPI sees the deals decided on each day, not only buckets."""
    state = states_of(Folder(DEFINITION), [won("2026-05-13", "d1", 5_000, opened="2026-05-01")])[
        "ana"
    ]
    assert last_active(state, "deals_won", d("2026-05-20"), 13) == d("2026-05-13")


def test_pipeline_thin_waits_for_day_five_then_fires_below_two() -> None:
    """Month coverage 0.5 (15,000 of 30,000 to make, nothing won): not judged on the 4th,
    fires on the 5th with its evidence; 2.0 or more is fine."""
    rule = DEFINITION.alerts["pipeline_thin"]
    thin = [
        directory("2026-04-01", "north", quota=30_000),
        opened("2026-04-01", "d1", 15_000, expected_close="2026-04-28"),
    ]
    early = observe(DEFINITION, rule, facts(cards_for(thin, "2026-04-04"), "2026-04-04"))
    assert early is not None and not early.condition
    seen = observe(DEFINITION, rule, facts(cards_for(thin, "2026-04-05"), "2026-04-05"))
    assert seen is not None and seen.condition
    assert seen.evidence == {"pipeline_coverage": 0.5, "samples": 1, "below": 2.0}
    alert, _ = step("pipeline_thin", rule, RuleState(), seen, facts({}, "2026-04-05"))
    assert alert is not None and alert.window == "month" and "prospecting" in alert.text
    thick = [*thin, opened("2026-04-02", "d2", 45_000)]
    fine = observe(DEFINITION, rule, facts(cards_for(thick, "2026-04-05"), "2026-04-05"))
    assert fine is not None and not fine.condition
