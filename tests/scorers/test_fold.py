"""Folding events into a rep's state: dedupe, deal resolution, currencies, lateness, teams."""

from __future__ import annotations

import pytest

from schemas.events import Event
from schemas.scorecard_definition import load_definition
from scorers import counters as c
from scorers.exceptions import RejectedEvent
from scorers.fold import Folder, take
from scorers.state import RepState, evictions
from scorers.window_totals import day_counts
from tests.scorers.builders import (
    call,
    day,
    directory,
    lost,
    opened,
    reopened,
    staged,
    states_of,
    won,
)


@pytest.fixture(name="folder")
def fixture_folder() -> Folder:
    return Folder(load_definition())


def fold_all(folder: Folder, events: list[Event]) -> RepState:
    return states_of(folder, events)["ana"]


def counts(state: RepState) -> dict[int, dict[str, int]]:
    """Each day's counts (its bucket and the deals decided on it), without the event count,
    as {day: {field: value}} for readable asserts."""
    out = {}
    for d, row in day_counts(state, 1, 10**6).items():
        fields = {c.FIELD_NAMES[i]: v for i, v in enumerate(row) if v and i != c.EVENTS}
        if fields:
            out[d] = fields
    return out


def test_redelivered_event_counts_once(folder: Folder) -> None:
    """The same event_id twice is one call, and the second is reported as a duplicate."""
    e = call("2026-03-02")
    state = RepState("ana")
    first = folder.fold(state, e, day("2026-03-02"))
    take(state, first)
    again = folder.fold(state, e, day("2026-03-02"))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.changes == ()
    take(state, again)
    assert state.buckets[day("2026-03-02")].counters[c.CALLS] == 1
    assert state.buckets[day("2026-03-02")].events == 1


def test_won_then_reopened_counts_nothing_in_either_order(folder: Folder) -> None:
    """A reopened deal takes its points back, whichever event arrives first."""
    w = won("2026-03-02", "d1", 1000, "2026-02-01")
    r = reopened("2026-03-05", "d1")
    assert counts(fold_all(folder, [w, r])) == {}
    assert counts(fold_all(folder, [r, w])) == {}


def test_rewon_deal_counts_once_on_its_new_day(folder: Folder) -> None:
    """Won, reopened, won again: one won deal, on the day of the last win, with its amount."""
    events = [
        won("2026-03-02", "d1", 1000, "2026-02-01"),
        reopened("2026-03-05", "d1"),
        won("2026-03-09", "d1", 1500, "2026-02-01"),
    ]
    expected = {
        day("2026-03-09"): {"won": 1, "revenue": 1500 * c.MICRO, "cycle_us": 36 * c.US_PER_DAY}
    }
    for order in (events, events[::-1], [events[1], events[2], events[0]]):
        assert counts(fold_all(folder, order)) == expected


def test_won_then_lost_counts_as_lost(folder: Folder) -> None:
    """A later deal_lost replaces an earlier win: the deal counts once, as lost."""
    state = fold_all(
        folder, [won("2026-03-02", "d1", 10, "2026-02-01"), lost("2026-03-03", "d1", "2026-02-01")]
    )
    assert counts(state) == {day("2026-03-03"): {"lost": 1}}


def test_same_time_deal_events_break_ties_by_event_id(folder: Folder) -> None:
    """Two outcomes at the same instant: the larger event_id decides, in any order."""
    a = won("2026-03-02T10:00:00+00:00", "d1", 10, "2026-02-01", event_id="a")
    b = lost("2026-03-02T10:00:00+00:00", "d1", "2026-02-01", event_id="b")
    assert counts(fold_all(folder, [a, b])) == {day("2026-03-02"): {"lost": 1}}
    assert counts(fold_all(folder, [b, a])) == {day("2026-03-02"): {"lost": 1}}


def test_foreign_currency_is_converted_and_unknown_currency_rejected(folder: Folder) -> None:
    """EUR amounts are converted at the scorecard's rate; a currency without a rate is refused."""
    state = fold_all(folder, [won("2026-03-02", "d1", 100, "2026-02-01", currency="EUR")])
    assert counts(state)[day("2026-03-02")]["revenue"] == 108 * c.MICRO
    with pytest.raises(RejectedEvent, match="no FX rate for 'JPY'") as rejected:
        folder.fold(state, won("2026-03-02", "d2", 100, "2026-02-01", currency="JPY"), 1)
    assert rejected.value.code == "unknown_currency"


def test_too_late_is_rejected_only_when_a_floor_is_given(folder: Folder) -> None:
    """The stream passes the first day it keeps; older events are "too late"."""
    state = RepState("ana")
    with pytest.raises(RejectedEvent, match="occurred on 2026-01-01") as rejected:
        folder.fold(state, call("2026-01-01"), day("2026-01-01"), not_before=day("2026-01-02"))
    assert rejected.value.code == "too_late"
    assert not folder.fold(state, call("2026-01-01"), day("2026-01-01")).duplicate


def test_directory_team_wins_over_event_team_and_latest_directory_entry_wins(
    folder: Folder,
) -> None:
    """The rep directory names the team; among its entries the latest by occurred_at counts."""
    events = [
        call("2026-03-05", team_id="team-event"),
        directory("2026-03-03", "team-new", quota=30000),
        directory("2026-03-01", "team-old", quota=10000),
    ]
    for order in (events, events[::-1]):
        profile = fold_all(folder, order).profile()
        assert (profile.team_id, profile.monthly_quota) == ("team-new", 30000)
        assert profile.first_day == day("2026-03-01")
    only_events = fold_all(
        folder, [call("2026-03-05", team_id="t2"), call("2026-03-04", team_id="t1")]
    )
    assert only_events.profile().team_id == "t2"


def test_fold_reports_each_count_change(folder: Folder) -> None:
    """The stream keeps window totals current from these changes; a reopen takes the win back."""
    state = fold_all(folder, [won("2026-03-02", "d1", 5, "2026-03-01")])
    folded = folder.fold(state, reopened("2026-03-04", "d1"), day("2026-03-04"))
    signs = [(ch.day, ch.sign) for ch in folded.changes if ch.delta and ch.delta[0][0] != c.EVENTS]
    assert signs == [(day("2026-03-02"), -1)]


def test_a_redelivered_deal_event_still_repairs_a_lost_deal_value(folder: Folder) -> None:
    """A crash kept the event's bucket (so it is a duplicate) but not the deal's value: folding
    it again restores the deal, because each value is decided on its own."""
    w = won("2026-03-02", "d1", 70, "2026-03-01")
    state = fold_all(folder, [w])
    state.deals.clear()  # the deal's record was lost; the bucket with the event id survived
    folded = folder.fold(state, w, day("2026-03-02"))
    assert folded.duplicate
    take(state, folded)
    assert counts(state) == {
        day("2026-03-02"): {"won": 1, "revenue": 70 * c.MICRO, "cycle_us": c.US_PER_DAY}
    }


def test_eviction_deletes_old_days_and_decided_deals(folder: Folder) -> None:
    """Eviction deletes everything before the floor; newer events still resolve deals."""
    state = fold_all(
        folder,
        [
            won("2026-01-02", "d1", 5, "2026-01-01"),
            reopened("2026-01-03", "d2"),
            call("2026-03-02"),
        ],
    )
    evicted = evictions(state, day("2026-02-01"))
    assert evicted.buckets == {day("2026-01-02"): None, day("2026-01-03"): None}
    assert evicted.deals == {"d1": None}  # d2 is reopened, not decided: kept
    state.apply(evicted)
    assert set(state.buckets) == {day("2026-03-02")}
    take(state, folder.fold(state, reopened("2026-03-03", "d1"), day("2026-03-03")))
    assert counts(state) == {day("2026-03-02"): {"calls": 1}}


def test_first_kept_day_is_what_the_definition_reaches_plus_lateness(folder: Folder) -> None:
    """Default windows and rules reach back 92 days (a quarter) and 7 days of lateness are
    allowed."""
    as_of = day("2026-06-30")
    assert folder.definition.history_days() == 92
    assert folder.first_kept_day(as_of) == as_of - 91 - 7


def test_a_deals_parts_are_each_the_latest_that_carried_one_in_any_order(folder: Folder) -> None:
    """Opened (1,000, qualified, due 03-20), re-priced as a proposal (1,200), moved to
    negotiation with a new date but no amount: whatever order they arrive in, the deal is
    decided by the last event, at 1,200, due 03-25, in negotiation, and counts nothing yet."""
    events = [
        opened("2026-03-01", "d1", 1_000, stage="qualified", expected_close="2026-03-20"),
        staged("2026-03-03", "d1", "proposal", amount=1_200),
        staged("2026-03-05", "d1", "negotiation", expected_close="2026-03-25"),
    ]
    for order in (events, events[::-1], [events[1], events[2], events[0]], events + events):
        deal = fold_all(folder, order).deals["d1"]
        assert (deal.kind, deal.day, deal.open) == ("stage_changed", day("2026-03-05"), True)
        assert deal.amount is not None and deal.amount.value == 1_200 * c.MICRO
        assert deal.close is not None and deal.close.value == day("2026-03-25")
        assert deal.stage is not None and deal.stage.value == "negotiation"
        assert counts(fold_all(folder, order)) == {}


def test_a_won_deal_carries_its_amount_into_a_reopening(folder: Folder) -> None:
    """Opened at 1,000, won at 1,500 EUR (1,620 USD), reopened: open again at 1,620."""
    events = [
        opened("2026-03-01", "d1", 1_000),
        won("2026-03-04", "d1", 1_500, "2026-03-01", currency="EUR"),
        reopened("2026-03-06", "d1"),
    ]
    for order in (events, events[::-1]):
        deal = fold_all(folder, order).deals["d1"]
        assert deal.open and deal.amount is not None and deal.amount.value == 1_620 * c.MICRO
        assert deal.stage is not None and deal.stage.value == "open"


def test_an_opening_in_an_unknown_currency_is_rejected(folder: Folder) -> None:
    """As for a won deal: no FX rate, no guess; the stage change's amount too."""
    state = RepState("ana")
    for event in (
        opened("2026-03-02", "d1", 100, currency="JPY"),
        staged("2026-03-02", "d1", "proposal", amount=100, currency="JPY"),
    ):
        with pytest.raises(RejectedEvent, match="no FX rate for 'JPY'"):
            folder.fold(state, event, day("2026-03-02"))


def test_open_deals_are_never_evicted(folder: Folder) -> None:
    """Opened or moved long ago and still open: in the pipeline, so kept; a lost one goes."""
    state = fold_all(
        folder,
        [
            opened("2026-01-02", "d1", 5),
            opened("2026-01-02", "d2", 5),
            staged("2026-01-03", "d2", "proposal"),
            opened("2026-01-02", "d3", 5),
            lost("2026-01-04", "d3", "2026-01-02"),
        ],
    )
    assert evictions(state, day("2026-02-01")).deals == {"d3": None}
