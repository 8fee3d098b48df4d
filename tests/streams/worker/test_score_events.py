"""Score events are built as dicts for speed: they must still be ``ScorecardUpdated``."""

from __future__ import annotations

import orjson

from schemas.outputs import Cause, ScorecardUpdated
from scorers.changes import change
from scorers.scoring import KpiScore, Scorecard
from streams.worker.score_events import score_event


def card(revenue: float, overall: float | None, as_of: int = 739_000) -> Scorecard:
    return Scorecard(
        rep_id="rep-ana", team_id="team-a", window="30d", as_of=as_of, overall=overall,
        perspectives={"financial": overall, "customer": None},
        kpis={
            "revenue_won": KpiScore(revenue, 10_000.0, revenue / 10_000, 2, overall or 0.0),
            "nps": KpiScore(None, 30.0, None, 0, 0.0),
        },
    )  # fmt: skip


def test_a_changed_card_is_a_valid_update_carrying_its_change_and_cause() -> None:
    before, after = card(5_000.0, 50.0), card(25_000.0, 100.0)
    cause = Cause(kind="event", event_id="e2", event_ids=["e1", "e2"])
    raw = score_event(after, before, change(before, after), cause.model_dump(mode="json"))
    assert raw is not None
    update = ScorecardUpdated.model_validate_json(raw)
    assert update.kpis["revenue_won"].value == 25_000.0
    assert update.kpis["revenue_won"].value_change == 20_000.0
    assert update.kpis["nps"].value_change is None
    assert update.overall_change == 50.0
    assert update.perspective_changes == {"financial": 50.0, "customer": None}
    assert update.cause == cause
    assert update.as_of.isoformat() == "2024-04-24"
    assert set(orjson.loads(raw)) == set(ScorecardUpdated.model_fields)


def test_a_card_that_only_moved_its_as_of_day_is_not_an_update() -> None:
    before, after = card(5_000.0, 50.0), card(5_000.0, 50.0, as_of=739_001)
    assert score_event(after, before, change(before, after), {"kind": "day_rollover"}) is None


def test_a_first_card_is_an_update_from_nothing() -> None:
    first = card(5_000.0, 50.0)
    raw = score_event(first, None, change(None, first), {"kind": "day_rollover"})
    assert raw is not None
    assert ScorecardUpdated.model_validate_json(raw).kpis["revenue_won"].value_change == 5_000.0
