"""What scoring a rep reuses from its last scoring (a change rule's earlier card, the counts of
its pipeline) is reused while its input stays the same, and made again, as a rep scored from
scratch would have it, as soon as a late event or a deal changes that input."""

from __future__ import annotations

import pytest

from schemas.events import Event
from schemas.scorecard_definition import ScorecardDefinition, load_definition, parse_definition
from scorers.fold import Folder, take
from scorers.rep_scoring import Layout, RepTotals, ScoredRep, score_rep, totals_for, totals_with
from scorers.state import RepState
from tests.scorers.builders import call, day, directory, nps, opened, staged, states_of

AS_OF = day("2026-03-20")
EVENTS = [
    directory("2026-01-05", "north", quota=30_000),
    call("2026-02-20"),
    nps("2026-03-01", 9),
    opened("2026-03-02", "d1", 10_000, stage="qualified"),
    call("2026-03-19"),
]


@pytest.fixture(name="definition")
def definition_fixture() -> ScorecardDefinition:
    return load_definition()


def scored(
    definition: ScorecardDefinition, events: list[Event]
) -> tuple[Layout, RepState, RepTotals]:
    layout = Layout.of(definition)
    assert layout.lookbacks, "the default scorecard has a change rule"
    state = states_of(Folder(definition), events)["ana"]
    return layout, state, totals_for(layout, state, AS_OF, None)


def fresh(layout: Layout, state: RepState) -> ScoredRep:
    """The rep scored from totals built anew: nothing reused."""
    return score_rep(layout, state, totals_for(layout, state, AS_OF, None))


def folded_in(
    definition: ScorecardDefinition, state: RepState, totals: RepTotals, event: Event
) -> RepTotals:
    """``event`` folded into ``state`` as the worker does, and ``totals`` moved with it."""
    folder = Folder(definition)
    folded = folder.fold(state, event, folder.day(event))
    take(state, folded)
    return totals_with(totals_for(Layout.of(definition), state, AS_OF, totals), folded.changes)


def test_an_unchanged_earlier_card_is_the_one_made_before(definition: ScorecardDefinition) -> None:
    layout, state, totals = scored(definition, EVENTS)
    first = score_rep(layout, state, totals)
    again = score_rep(layout, state, totals_for(layout, state, AS_OF, totals))
    (lookback,) = layout.lookbacks
    assert again.earlier[lookback] is first.earlier[lookback]
    assert again.earlier == fresh(layout, state).earlier


def test_todays_event_leaves_the_earlier_card_as_it_was(definition: ScorecardDefinition) -> None:
    layout, state, totals = scored(definition, EVENTS)
    first = score_rep(layout, state, totals)
    totals = folded_in(definition, state, totals, call("2026-03-20"))
    again = score_rep(layout, state, totals)
    (lookback,) = layout.lookbacks
    assert again.earlier[lookback] is first.earlier[lookback]
    assert again.cards != first.cards  # today's card did move


@pytest.mark.parametrize(
    "late",
    [
        nps("2026-03-05", 0),  # a late event in the earlier window's days
        staged("2026-03-20", "d1", "proposal"),  # its deal leaves the earlier pipeline
    ],
    ids=["late_event", "deal_moved"],
)
def test_a_changed_input_scores_the_earlier_card_again(
    definition: ScorecardDefinition, late: Event
) -> None:
    layout, state, totals = scored(definition, EVENTS)
    first = score_rep(layout, state, totals)
    totals = folded_in(definition, state, totals, late)
    again = score_rep(layout, state, totals)
    (lookback,) = layout.lookbacks
    assert not again.earlier[lookback].same_scores(first.earlier[lookback])
    assert again.earlier == fresh(layout, state).earlier


def test_another_definition_never_takes_the_card_of_the_last(
    definition: ScorecardDefinition,
) -> None:
    layout, state, totals = scored(definition, EVENTS)
    score_rep(layout, state, totals)
    data = definition.model_dump(mode="json")
    data["kpis"]["calls_logged"]["target"] = {"absolute": 0.5}  # met by the one call
    other = Layout.of(parse_definition(data))
    again = score_rep(other, state, totals)
    assert again.earlier == fresh(other, state).earlier
    assert again.earlier != fresh(layout, state).earlier


@pytest.mark.parametrize(
    "deal",
    [
        opened("2026-03-20", "d2", 5_000, stage="proposal", expected_close="2026-03-30"),
        staged("2026-03-20", "d1", "negotiation", expected_close="2026-03-25"),
    ],
    ids=["opened", "staged"],
)
def test_a_deal_event_counts_the_pipeline_again(
    definition: ScorecardDefinition, deal: Event
) -> None:
    layout, state, totals = scored(definition, EVENTS)
    first = score_rep(layout, state, totals)
    totals = folded_in(definition, state, totals, deal)
    again = score_rep(layout, state, totals)
    assert again.inputs != first.inputs
    assert again.cards == fresh(layout, state).cards
    assert again.inputs == fresh(layout, state).inputs
