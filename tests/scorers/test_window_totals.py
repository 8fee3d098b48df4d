"""Window totals kept current from fold changes equal totals built from the state."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings

from schemas.events import parse_event
from scorers.calendar import from_date
from scorers.fold import Folder, take
from scorers.state import RepState
from scorers.window_totals import WindowTotals, build, moved, with_changes
from tests.scorers.test_replay_properties import DEFINITION, WINDOWS, logs

AS_OF = from_date(date(2026, 3, 15))  # the generated logs span 2026-01-20 .. 2026-03-11


@settings(max_examples=60, deadline=None)
@given(log=logs())
def test_incremental_totals_equal_a_build_after_every_event(log: list[bytes]) -> None:
    """Add each event's changes to the totals: after every step they equal a fresh build."""
    folder = Folder(DEFINITION)
    states: dict[str, RepState] = {}
    totals: dict[str, WindowTotals] = {}
    for raw in log:
        event = parse_event(raw)
        state = states.setdefault(event.rep_id, RepState(event.rep_id))
        current = totals.get(event.rep_id) or build(state, WINDOWS, AS_OF)
        folded = folder.fold(state, event, folder.day(event))
        take(state, folded)
        totals[event.rep_id] = with_changes(current, folded.changes)
        assert totals[event.rep_id].totals == build(state, WINDOWS, AS_OF).totals


def test_totals_are_values_a_change_does_not_alter_the_old_ones() -> None:
    """Totals are values: moving or changing them returns new totals, the old stay as they were."""
    state = RepState("ana")
    first = build(state, ["7d"], AS_OF)
    assert moved(first, state, AS_OF) is first
    later = moved(first, state, AS_OF + 1)
    assert (first.spans["7d"].last, later.spans["7d"].last) == (AS_OF, AS_OF + 1)


@settings(max_examples=60, deadline=None)
@given(log=logs())
def test_totals_moved_on_with_the_event_clock_equal_a_build(log: list[bytes]) -> None:
    """As the worker does: move the totals to the event clock's day, fold, add the changes.

    After every event they equal totals built from scratch, across week, month and
    quarter boundaries and jumps of many days.
    """
    folder = Folder(DEFINITION)
    states: dict[str, RepState] = {}
    totals: dict[str, WindowTotals] = {}
    clock = 0
    for raw in sorted(log, key=lambda line: parse_event(line).occurred_at):
        event = parse_event(raw)
        day = folder.day(event)
        clock = max(clock, day)
        state = states.setdefault(event.rep_id, RepState(event.rep_id))
        current = totals.get(event.rep_id)
        current = build(state, WINDOWS, clock) if current is None else moved(current, state, clock)
        folded = folder.fold(state, event, day)
        take(state, folded)
        totals[event.rep_id] = with_changes(current, folded.changes)
        assert totals[event.rep_id].totals == build(state, WINDOWS, clock).totals, clock
    for rep, current in totals.items():  # and a quiet jump to a later day for everyone
        later = moved(current, states[rep], clock + 40)
        assert later.totals == build(states[rep], WINDOWS, clock + 40).totals
