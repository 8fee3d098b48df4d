"""Properties of the replay over random logs: order and redelivery never change a scorecard,
and the values equal an independent computation of the semantics."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.scorecard_definition import load_definition
from scorers.replay import Replay
from tests.scorers.reference import assert_matches_reference

DEFINITION = load_definition()
WINDOWS = ["7d", "30d", "week", "month", "quarter"]
START = date(2026, 1, 20)
OFFSETS = ["+00:00", "-05:00", "+01:00", "+05:30", "-08:00"]


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    day = START + timedelta(days=draw(st.integers(0, 50)))
    hour = draw(st.integers(0, 23))
    minute = draw(st.sampled_from([0, 17, 59]))
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00{draw(st.sampled_from(OFFSETS))}"


def deal_parts(draw: st.DrawFn, *, opened: bool) -> dict[str, Any]:
    """A deal_opened's or deal_stage_changed's own fields: an amount (always when opened) in
    some currency, a stage, maybe an expected close inside or outside the log's periods."""
    parts: dict[str, Any] = {}
    stage = draw(st.sampled_from(["qualified", "negotiation", "mystery", None]))
    if stage is not None or not opened:
        parts["stage"] = stage or "proposal"
    if opened or draw(st.booleans()):
        parts["amount"] = draw(st.sampled_from([0, 99.99, 1250.5, 40000]))
        currency = draw(st.sampled_from([None, None, "USD", "EUR"]))
        if currency is not None:
            parts["currency"] = currency
    if draw(st.booleans()):
        close = START + timedelta(days=draw(st.integers(-30, 120)))
        parts["expected_close"] = close.isoformat()
    return parts


@st.composite
def events(draw: st.DrawFn, index: int) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["deal_opened", "deal_opened", "deal_stage_changed", "deal_stage_changed",
             "deal_won", "deal_won", "deal_lost", "deal_reopened", "call_logged", "nps_response",
             "lead_converted", "lead_disqualified", "account_renewed", "account_churned",
             "course_completed", "rep_upserted"]
        )
    )  # fmt: skip
    body: dict[str, Any] = {
        "event_id": f"e{index}",
        "event_type": kind,
        "occurred_at": draw(timestamps()),
        "rep_id": draw(st.sampled_from(["ana", "bob", "cy"])),
    }
    if kind.startswith("deal_"):
        body["deal_id"] = draw(st.sampled_from(["d1", "d2", "d3"]))
    if kind in ("deal_won", "deal_lost"):
        body["opened_at"] = "2025-12-01T08:00:00+00:00"
    if kind == "deal_won":
        body["amount"] = draw(st.sampled_from([0, 99.99, 1250.5, 40000]))
        body["currency"] = draw(st.sampled_from(["USD", "USD", "EUR"]))
    elif kind in ("deal_opened", "deal_stage_changed"):
        body.update(deal_parts(draw, opened=kind == "deal_opened"))
    elif kind == "call_logged":
        body.update(
            call_id=f"c{index}",
            duration_seconds=30,
            outcome=draw(
                st.sampled_from(["connected", "no_answer", "voicemail", "meeting_booked"])
            ),
        )
    elif kind == "nps_response":
        body.update(account_id="acme", score=draw(st.integers(0, 10)))
    elif kind.startswith("lead_"):
        body["lead_id"] = f"l{index}"
    elif kind.startswith("account_"):
        body["account_id"] = f"a{index}"
    elif kind == "course_completed":
        body.update(course_id="x", hours=draw(st.sampled_from([0.5, 1.25, 3])))
    elif kind == "rep_upserted":
        body.update(
            name="N",
            team_id=draw(st.sampled_from(["north", "south"])),
            monthly_quota=draw(st.sampled_from([None, 30000])),
        )
    if kind != "rep_upserted" and draw(st.booleans()):
        body["team_id"] = draw(st.sampled_from(["north", "south"]))
    return body


@st.composite
def logs(draw: st.DrawFn) -> list[bytes]:
    size = draw(st.integers(1, 40))
    return [orjson.dumps(draw(events(i))) for i in range(size)]


def replay(lines: list[bytes], as_of: date | None = None) -> dict[str, Any]:
    engine = Replay(DEFINITION, as_of)
    for n, line in enumerate(lines, 1):
        engine.feed(n, line)
    return engine.result(WINDOWS).to_json_dict()


def scored(result: dict[str, Any]) -> tuple[Any, ...]:
    """What must not depend on order or redelivery (the duplicate count does, by design)."""
    key = lambda s: (s.get("rep_id", ""), s["team_id"] or "", s["window"])  # noqa: E731
    return (
        result["as_of"],
        sorted(result["scorecards"], key=key),
        sorted(result["teams"], key=key),
        result["out_of_range"],
    )


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(log=logs(), data=st.data())
def test_any_order_with_any_duplicates_gives_identical_scorecards(
    log: list[bytes], data: st.DataObject
) -> None:
    """Permute a log and redeliver any of its events: every scorecard is identical."""
    dupes = data.draw(st.lists(st.sampled_from(log), max_size=10))
    shuffled = data.draw(st.permutations(log + dupes))
    again = replay(shuffled)
    assert scored(again) == scored(replay(log))
    assert again["duplicates"] == len(dupes)


@SETTINGS
@given(log=logs(), data=st.data())
def test_two_halves_in_either_order_equal_the_whole(log: list[bytes], data: st.DataObject) -> None:
    """Folding the second half first, then the first, equals folding the whole log."""
    cut = data.draw(st.integers(0, len(log)))
    assert scored(replay(log[cut:] + log[:cut])) == scored(replay(log))


@SETTINGS
@given(log=logs(), data=st.data())
def test_won_then_reopened_is_open_again(log: list[bytes], data: st.DataObject) -> None:
    """A deal won and later reopened, both up to T, leaves every activity and outcome KPI
    as it was, and is back in the open pipeline at its won amount."""
    base = replay(log)
    as_of = date.fromisoformat(base["as_of"])
    rep = data.draw(st.sampled_from(sorted({s["rep_id"] for s in base["scorecards"]})))
    won_day = data.draw(st.integers(0, 60))
    reopen_day = data.draw(st.integers(0, won_day))
    won = {
        "event_id": "x-won", "event_type": "deal_won", "rep_id": rep, "deal_id": "fresh",
        "occurred_at": f"{(as_of - timedelta(days=won_day)).isoformat()}T10:00:00+00:00",
        "opened_at": "2025-01-01T00:00:00+00:00", "amount": 5000,
    }  # fmt: skip
    reopen = {
        "event_id": "x-reopen", "event_type": "deal_reopened", "rep_id": rep, "deal_id": "fresh",
        "occurred_at": f"{(as_of - timedelta(days=reopen_day)).isoformat()}T11:00:00+00:00",
    }  # fmt: skip
    extra = [orjson.dumps(won), orjson.dumps(reopen)]
    after = replay(data.draw(st.permutations(log + extra)), as_of)

    def values(result: dict[str, Any]) -> dict[tuple[str, str], Any]:
        return {
            (s["rep_id"], s["window"]): {k: v["value"] for k, v in s["kpis"].items()}
            for s in result["scorecards"]
        }

    before, now = values(replay(log, as_of)), values(after)
    assert now.keys() == before.keys()
    pipeline = {"open_pipeline", "pipeline_coverage", "forecast_attainment"}
    for key, kpis in now.items():
        assert {k: v for k, v in kpis.items() if k not in pipeline} == {
            k: v for k, v in before[key].items() if k not in pipeline
        }
        added = 5000 if key[0] == rep else 0
        assert kpis["open_pipeline"] == pytest.approx(before[key]["open_pipeline"] + added)


@SETTINGS
@given(log=logs(), data=st.data())
def test_values_match_an_independent_computation(log: list[bytes], data: st.DataObject) -> None:
    """Every KPI of every rep and window equals the naive reference to 1e-6."""
    dupes = data.draw(st.lists(st.sampled_from(log), max_size=5))
    lines = data.draw(st.permutations(log + dupes))
    as_of_shift = data.draw(st.sampled_from([None, 0, 3, 20]))
    fixed = None
    if as_of_shift is not None:
        latest = date.fromisoformat(replay(log)["as_of"])
        fixed = latest - timedelta(days=as_of_shift)
    assert_matches_reference(replay(lines, fixed), lines, WINDOWS, fixed)
