"""A card's published JSON, made from KPI fragments reused across cards, is the JSON of the
dicts it stands for: the body, its change and the score event, card after card."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from scorers.card_json import KpiJson
from scorers.changes import change
from scorers.effects import CardUpdate, ScoreEvent
from scorers.scoring import KpiScore, Scorecard

NAMES = ["calls_logged", "deals_won", "nps", "revenue_won", "win_rate"]
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
CAUSE = {"kind": "event", "event_id": "e2", "event_ids": ["e1", "e2"]}

# No -0.0: a KPI equal to the last but for a zero's sign keeps the last one's JSON
# (``test_a_zero_of_the_other_sign_is_the_same_number``).
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64).filter(
    lambda x: x != 0.0 or str(x) == "0.0"
)
maybe = st.none() | numbers
kpi_scores = st.builds(KpiScore, maybe, maybe, maybe, st.integers(0, 50), numbers)


@st.composite
def card_runs(draw: st.DrawFn) -> list[Scorecard]:
    """Cards of one rep and window, each moving a few KPIs of the last (or adding and
    dropping some, as a new definition version does)."""
    kpis = {n: draw(kpi_scores) for n in draw(st.sets(st.sampled_from(NAMES), min_size=1))}
    cards = []
    for day in range(draw(st.integers(1, 6))):
        kpis = dict(kpis)
        for name in draw(st.sets(st.sampled_from(NAMES), max_size=2)):
            if name in kpis and draw(st.booleans()):
                del kpis[name]
            else:
                kpis[name] = draw(kpi_scores)
        perspectives = {"financial": draw(maybe), "customer": draw(maybe)}
        team = draw(st.sampled_from(["t1", None]))
        overall, uncapped = draw(maybe), draw(maybe)
        cards.append(
            Scorecard("rep-1", team, "30d", 740_000 + day, overall, perspectives, kpis, uncapped, 3)
        )
    return cards


def published(card: Scorecard, previous: Scorecard | None) -> tuple[bytes, bytes]:
    """The Redis card (but ``updated_at``) and the score event, as the worker makes them."""
    update = CardUpdate.of(card, previous)
    body = orjson.dumps({**update.body, "change": update.change})
    return body, ScoreEvent.of(update, CAUSE, NOW).value


def expected(card: Scorecard, previous: Scorecard | None) -> tuple[bytes, bytes]:
    """The same, from plain dicts: ``Scorecard.to_dict`` and ``changes.change``."""
    moved = change(previous, card)
    body = card.to_dict()
    kpis = {
        name: {
            **kpi,
            "value_change": moved.kpis[name]["value"],
            "contribution_change": moved.kpis[name]["contribution"],
        }
        for name, kpi in body["kpis"].items()  # type: ignore[attr-defined]
    }
    event = {
        **body,
        "kpis": kpis,
        "overall_change": moved.overall,
        "perspective_changes": moved.perspectives,
        "cause": CAUSE,
        "emitted_at": NOW,
    }
    return orjson.dumps({**body, "change": moved.to_dict()}), orjson.dumps(event)


@settings(max_examples=300, deadline=None)
@given(card_runs())
def test_each_card_publishes_the_json_of_its_dicts(cards: list[Scorecard]) -> None:
    previous = None
    for card in cards:
        assert published(card, previous) == expected(card, previous)
        previous = card


def test_a_kpi_that_did_not_move_reuses_the_last_cards_json() -> None:
    still, moving = KpiScore(3.0, 8.0, 0.375, 3, 5.0), KpiScore(1.0, 2.0, 0.5, 1, 2.0)
    first = Scorecard("rep-1", "t1", "7d", 740_000, 40.0, {}, {"a": still, "b": moving})
    moved = {"a": still, "b": moving._replace(value=2.0)}
    second = Scorecard("rep-1", "t1", "7d", 740_000, 45.0, {}, moved)
    CardUpdate.of(first, None)
    CardUpdate.of(second, first)
    assert first.rendered is not None and second.rendered is not None
    assert second.rendered.kpis["a"] is first.rendered.kpis["a"]
    assert second.rendered.kpis["b"] is not first.rendered.kpis["b"]
    assert published(second, first) == expected(second, first)


def test_a_card_read_back_without_json_is_rendered_in_full() -> None:
    score = KpiScore(3.0, 8.0, 0.375, 3, 5.0)
    stored = Scorecard.from_dict(
        Scorecard("rep-1", "t1", "7d", 740_000, 40.0, {}, {"a": score}).to_dict()
    )
    card = Scorecard("rep-1", "t1", "7d", 740_001, 41.0, {}, {"a": score._replace(samples=4)})
    assert stored.rendered is None
    assert published(card, stored) == expected(card, stored)


def test_a_zero_of_the_other_sign_is_the_same_number() -> None:
    zero, negative_zero = KpiScore(0.0, 1.0, 0.0, 1, 0.0), KpiScore(-0.0, 1.0, -0.0, 1, -0.0)
    first = Scorecard("rep-1", None, "7d", 740_000, 0.0, {}, {"a": zero})
    second = Scorecard("rep-1", None, "7d", 740_001, 0.0, {}, {"a": negative_zero})
    CardUpdate.of(first, None)
    got, want = published(second, first), expected(second, first)
    assert got != want  # "0.0" kept where the dicts say "-0.0"
    assert [orjson.loads(b) for b in got] == [orjson.loads(b) for b in want]


def test_a_kpis_kept_json_is_its_text_not_orjsons_buffer() -> None:
    """A worker keeps three fragments a KPI of every card it wrote: the bytes ``orjson.dumps``
    returns keep a ~2 kB buffer each, which took a 200-rep worker from 150 to 490 MB."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [KpiJson(KpiScore(float(i), 8.0, i / 8, i, 5.0)) for i in range(1_000)]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == 1_000 and used < 1_000 * 1_000, f"{used / 1000:.0f} B a KPI"
