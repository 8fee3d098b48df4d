"""KPI values and scores, hand-computed: every KPI, targets, caps, min_samples, redistribution."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import Event
from schemas.kpi_names import Direction
from schemas.scorecard_definition import (
    ScorecardDefinition,
    load_definition,
    parse_definition,
)
from scorers.evaluate import evaluate, ranked
from scorers.fold import Folder
from scorers.scoring import Scorecard, attainment
from tests.scorers.builders import (
    account,
    call,
    course,
    day,
    directory,
    lead,
    lost,
    nps,
    states_of,
    won,
)

SMALL: dict[str, Any] = {
    "name": "small",
    "windows": ["7d", "30d"],
    "default_monthly_quota": 36500,  # 1,200 a day
    "perspectives": {"financial": {"weight": 3}, "customer": {"weight": 1}},
    "kpis": {
        "revenue_won": {"perspective": "financial", "weight": 1, "target": {"per_day": 1000}},
        "win_rate": {
            "perspective": "financial",
            "weight": 1,
            "target": {"absolute": 0.5},
            "min_samples": 2,
        },
        "nps": {
            "perspective": "customer",
            "weight": 1,
            "target": {"absolute": 50},
            "min_samples": 2,
        },
    },
}


def scorecards(
    definition: ScorecardDefinition, events: list[Event], as_of: str
) -> dict[tuple[str | None, str | None, str], Scorecard]:
    result = evaluate(definition, states_of(Folder(definition), events).values(), day(as_of))
    return {(s.rep_id, s.team_id, s.window): s for s in result.reps + result.teams}


def small(**changes: Any) -> ScorecardDefinition:
    return parse_definition({**SMALL, **changes})


def test_every_kpi_value_by_hand() -> None:
    """One day of activity, each KPI computed by hand from the catalogue's formulas."""
    events = [
        won("2026-03-10", "d1", 3000, "2026-03-01"),  # 9 days
        won("2026-03-10", "d2", 1000, "2026-03-07T12:00:00+00:00"),  # 3 days
        lost("2026-03-10", "d3", "2026-03-01"),
        call("2026-03-10", "meeting_booked"),
        call("2026-03-10"),
        call("2026-03-10", "voicemail"),
        call("2026-03-10", "no_answer"),
        lead("2026-03-10", True),
        lead("2026-03-10", False),
        lead("2026-03-10", False),
        nps("2026-03-10", 10),
        nps("2026-03-10", 9),
        nps("2026-03-10", 8),
        nps("2026-03-10", 2),
        account("2026-03-10", True),
        account("2026-03-10", True),
        account("2026-03-10", False),
        course("2026-03-10", 1.5),
        course("2026-03-10", 2.25),
        directory("2026-03-01", "north", quota=36500),
    ]
    card = scorecards(load_definition(), events, "2026-03-10")[("ana", "north", "30d")]
    values = {k: v.value for k, v in card.kpis.items()}
    assert values == pytest.approx(
        {
            "revenue_won": 4000.0,
            "deals_won": 2.0,
            "avg_deal_size": 2000.0,
            "quota_attainment": 4000 / (1200 * 30),
            "win_rate": 2 / 3,
            "sales_cycle_days": 6.0,
            "calls_logged": 4.0,
            "call_to_meeting": 0.25,
            "lead_conversion": 1 / 3,
            "nps": 25.0,  # (2 promoters - 1 detractor) / 4 responses
            "retention_rate": 2 / 3,
            "courses_completed": 2.0,
            "training_hours": 3.75,
            # No deal was opened: an empty pipeline (a real 0); no forecast in a rolling window.
            "open_pipeline": 0.0,
            "pipeline_coverage": 0.0,
            "forecast_attainment": None,
        },
        abs=1e-9,
    )
    samples = {k: v.samples for k, v in card.kpis.items()}
    assert samples["win_rate"] == 3 and samples["nps"] == 4 and samples["call_to_meeting"] == 4


def test_denominator_zero_is_null_not_zero() -> None:
    """With no calls, call_to_meeting has no value; calls_logged is a real 0."""
    card = scorecards(load_definition(), [nps("2026-03-10", 9)], "2026-03-10")[("ana", None, "7d")]
    assert card.kpis["call_to_meeting"].value is None
    assert card.kpis["call_to_meeting"].attainment is None
    assert card.kpis["calls_logged"].value == 0.0
    assert card.kpis["calls_logged"].attainment == 0.0


def test_weighted_scores_and_contributions_by_hand() -> None:
    """Revenue 3,500 of 7,000 (0.5), win rate 0.5 of 0.5 (1.0): financial 75, overall 75.

    No NPS responses: the customer perspective is null and its weight goes to financial.
    """
    events = [won("2026-03-10", "d1", 3500, "2026-03-01"), lost("2026-03-09", "d2", "2026-03-01")]
    card = scorecards(small(), events, "2026-03-10")[("ana", None, "7d")]
    assert card.perspectives == {"financial": pytest.approx(75.0), "customer": None}
    assert card.overall == pytest.approx(75.0)
    assert card.kpis["revenue_won"].target == pytest.approx(7000)
    assert card.kpis["revenue_won"].contribution == pytest.approx(25.0)
    assert card.kpis["win_rate"].contribution == pytest.approx(50.0)
    assert card.kpis["nps"].contribution == 0.0


def test_perspective_weights_combine_when_both_have_data() -> None:
    """financial 75 (weight 3) and customer 50 (weight 1): overall (3x75 + 50) / 4 = 68.75."""
    events = [
        won("2026-03-10", "d1", 3500, "2026-03-01"),
        lost("2026-03-09", "d2", "2026-03-01"),
        nps("2026-03-10", 10),
        nps("2026-03-10", 8),  # NPS 50 against a target of 100
    ]
    card = scorecards(
        small(kpis={**SMALL["kpis"], "nps": {**SMALL["kpis"]["nps"], "target": {"absolute": 100}}}),
        events,
        "2026-03-10",
    )[("ana", None, "7d")]
    assert card.kpis["nps"].value == pytest.approx(50.0)
    assert card.perspectives["customer"] == pytest.approx(50.0)
    assert card.overall == pytest.approx(68.75)
    assert sum(k.contribution for k in card.kpis.values()) == pytest.approx(68.75)


def test_min_samples_spreads_weight_to_the_rest_of_the_perspective() -> None:
    """One decided deal is below win_rate's min_samples 2: revenue alone makes financial."""
    card = scorecards(small(), [won("2026-03-10", "d1", 3500, "2026-03-01")], "2026-03-10")[
        ("ana", None, "7d")
    ]
    assert card.kpis["win_rate"].attainment is None and card.kpis["win_rate"].value == 1.0
    assert card.perspectives["financial"] == pytest.approx(50.0)
    assert card.kpis["revenue_won"].contribution == pytest.approx(50.0)


def test_cap_lets_a_kpi_make_up_for_another_but_never_past_100() -> None:
    """Revenue at 2.86x is capped at 1.2: with win rate 1.0 the raw mean is 1.1, reported as 100."""
    events = [won("2026-03-10", "d1", 20000, "2026-03-01"), lost("2026-03-09", "d2", "2026-03-01")]
    card = scorecards(small(), events, "2026-03-10")[("ana", None, "7d")]
    assert card.kpis["revenue_won"].attainment == pytest.approx(1.2)
    assert card.perspectives["financial"] == pytest.approx(100.0)
    assert card.overall == pytest.approx(100.0)
    assert card.kpis["revenue_won"].contribution == pytest.approx(100 * 0.6 / 1.1)
    assert sum(k.contribution for k in card.kpis.values()) == pytest.approx(100.0)

    # 0.2 below target on win rate, made up by revenue over target: (1.2 + 0.8) / 2 = 1.0
    events = [
        won("2026-03-10", "d1", 20000, "2026-03-01"),
        *(lost(f"2026-03-0{i}", f"x{i}", "2026-03-01") for i in (4, 5, 6, 7)),
    ]
    wide = small(
        kpis={
            **SMALL["kpis"],
            "win_rate": {**SMALL["kpis"]["win_rate"], "target": {"absolute": 0.25}},
        }
    )
    card = scorecards(wide, events, "2026-03-10")[("ana", None, "7d")]
    assert card.kpis["win_rate"].attainment == pytest.approx(0.8)
    assert card.overall == pytest.approx(100.0)


def test_uncapped_overall_tells_apart_reps_at_100() -> None:
    """Both reps score 100; the one further past target has the higher uncapped overall.

    ana: revenue 20,000 of 7,000 (2.857, capped at 1.2), win rate 1.0: (2.857 + 1) / 2.
    ben: revenue 10,000 of 7,000 (1.429): (1.429 + 1) / 2. No NPS: customer is null.
    """
    events = [
        won("2026-03-10", "d1", 20000, "2026-03-01"),
        lost("2026-03-09", "d2", "2026-03-01"),
        won("2026-03-10", "d3", 10000, "2026-03-01", rep="ben"),
        lost("2026-03-09", "d4", "2026-03-01", rep="ben"),
    ]
    cards = scorecards(small(), events, "2026-03-10")
    ana, ben = cards[("ana", None, "7d")], cards[("ben", None, "7d")]
    assert ana.overall == ben.overall == pytest.approx(100.0)
    assert ana.overall_uncapped == pytest.approx(100 * (20000 / 7000 + 1) / 2)
    assert ben.overall_uncapped == pytest.approx(100 * (10000 / 7000 + 1) / 2)
    assert ana.to_dict()["overall_uncapped"] == ana.overall_uncapped
    assert Scorecard.from_dict(ana.to_dict()) == ana
    assert [c.rep_id for c in ranked([ben, ana], ["7d"])] == ["ana", "ben"]


def test_ties_in_the_uncapped_overall_fall_back_to_the_rep_id() -> None:
    """Same events for two reps: equal in every score, so the id decides the order."""
    events = [won("2026-03-10", "d1", 20000, "2026-03-01")]
    events += [won("2026-03-10", "d1", 20000, "2026-03-01", rep="aaron")]
    cards = scorecards(small(), events, "2026-03-10")
    ana, aaron = cards[("ana", None, "7d")], cards[("aaron", None, "7d")]
    assert ana.overall_uncapped == aaron.overall_uncapped
    assert [c.rep_id for c in ranked([ana, aaron], ["7d"])] == ["aaron", "ana"]


def test_below_every_cap_the_uncapped_overall_is_the_overall() -> None:
    """Revenue 3,500 of 7,000 and win rate at target: no clamp applies, 75 either way."""
    events = [won("2026-03-10", "d1", 3500, "2026-03-01"), lost("2026-03-09", "d2", "2026-03-01")]
    card = scorecards(small(), events, "2026-03-10")[("ana", None, "7d")]
    assert card.overall == pytest.approx(75.0)
    assert card.overall_uncapped == pytest.approx(75.0)


@pytest.mark.parametrize(
    ("value", "target", "direction", "expected"),
    [
        (60, 30, Direction.LOWER, 0.5),
        (15, 30, Direction.LOWER, 1.2),
        (0, 30, Direction.LOWER, 1.2),
        (27, 30, Direction.LOWER, 30 / 27),
        (3, 4, Direction.HIGHER, 0.75),
        (-20, 40, Direction.HIGHER, 0.0),
        (5, 0, Direction.HIGHER, 1.2),
    ],
)
def test_attainment(value: float, target: float, direction: Direction, expected: float) -> None:
    """value/target or target/value, clamped to [0, cap]."""
    assert attainment(value, target, direction, cap=1.2) == pytest.approx(expected)


def test_lower_is_better_kpi_in_a_scorecard() -> None:
    """A 60-day sales cycle against a 30-day target is at half its target."""
    definition = small(
        perspectives={"financial": {"weight": 1}},
        kpis={
            "sales_cycle_days": {
                "perspective": "financial",
                "weight": 1,
                "direction": "lower",
                "target": {"absolute": 30},
            }
        },
    )
    card = scorecards(definition, [won("2026-03-10", "d1", 1, "2026-01-09")], "2026-03-10")[
        ("ana", None, "30d")
    ]
    assert card.kpis["sales_cycle_days"].value == pytest.approx(60.0)
    assert card.overall == pytest.approx(50.0)


def test_per_day_and_quota_targets_scale_with_the_window() -> None:
    """7d vs 30d: a per-day target and the quota both scale with the days a window holds."""
    definition = small(
        kpis={
            "revenue_won": {"perspective": "financial", "weight": 1, "target": {"quota": 0.5}},
            "win_rate": {"perspective": "financial", "weight": 1, "target": {"absolute": 0.5}},
            "nps": {"perspective": "customer", "weight": 1, "target": {"per_day": 2}},
        }
    )
    cards = scorecards(definition, [won("2026-03-10", "d1", 1, "2026-03-01")], "2026-03-10")
    assert cards[("ana", None, "7d")].kpis["revenue_won"].target == pytest.approx(0.5 * 1200 * 7)
    assert cards[("ana", None, "30d")].kpis["revenue_won"].target == pytest.approx(0.5 * 1200 * 30)
    assert cards[("ana", None, "30d")].kpis["nps"].target == pytest.approx(60)


def test_team_scorecard_sums_counts_not_ratios() -> None:
    """Ana wins 1 of 1, Bob 1 of 3: the team's win rate is 2/4 = 0.5, not the mean 0.67."""
    events = [
        directory("2026-03-01", "north", rep="ana"),
        directory("2026-03-01", "north", quota=73000, rep="bob"),
        won("2026-03-10", "a1", 1000, "2026-03-01", rep="ana"),
        won("2026-03-10", "b1", 3000, "2026-03-01", rep="bob"),
        lost("2026-03-10", "b2", "2026-03-01", rep="bob"),
        lost("2026-03-10", "b3", "2026-03-01", rep="bob"),
    ]
    cards = scorecards(small(), events, "2026-03-10")
    team = cards[(None, "north", "7d")]
    assert team.kpis["win_rate"].value == pytest.approx(0.5)
    assert team.kpis["revenue_won"].value == pytest.approx(4000)
    # additive per-day targets grow with the members; ratio targets do not
    assert team.kpis["revenue_won"].target == pytest.approx(2 * 7 * 1000)
    assert team.kpis["win_rate"].target == pytest.approx(0.5)
    assert team.to_dict().get("rep_id", "absent") == "absent"


def test_team_quota_is_the_sum_of_member_quotas() -> None:
    """Bob's quota is 2,400 a day, Ana has the default 1,200: the team's 7d quota is 25,200."""
    events = [
        directory("2026-03-01", "north", rep="ana"),
        directory("2026-03-01", "north", quota=73000, rep="bob"),
        won("2026-03-10", "a1", 12600, "2026-03-01", rep="ana"),
    ]
    quota_kpi = {"perspective": "financial", "weight": 1, "target": {"absolute": 1}}
    definition = small(kpis={**SMALL["kpis"], "quota_attainment": quota_kpi})
    team = scorecards(definition, events, "2026-03-10")[(None, "north", "7d")]
    assert team.kpis["quota_attainment"].value == pytest.approx(12600 / 25200)


def test_no_data_at_all_gives_null_scores() -> None:
    """A rep known only from the directory has a scorecard with no score, not a zero."""
    definition = small(kpis={k: v for k, v in SMALL["kpis"].items() if k != "revenue_won"})
    card = scorecards(definition, [directory("2026-03-01", "north")], "2026-03-10")[
        ("ana", "north", "7d")
    ]
    assert card.overall is None
    assert card.perspectives == {"financial": None, "customer": None}
