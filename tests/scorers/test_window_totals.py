"""Window totals kept current from fold changes equal totals rebuilt from the buckets."""

from __future__ import annotations

from datetime import date

import orjson
from hypothesis import given, settings

from schemas.events import parse_event
from scorers.calendar import from_date
from scorers.fold import Folder, Outcome
from scorers.state import MemoryRepStore
from scorers.window_totals import WindowTotals
from tests.scorers.test_replay_properties import DEFINITION, WINDOWS, logs

AS_OF = from_date(date(2026, 3, 15))  # the generated logs span 2026-01-20 .. 2026-03-11


@settings(max_examples=60, deadline=None)
@given(log=logs())
def test_incremental_totals_equal_a_rebuild_after_every_event(log: list[bytes]) -> None:
    """Apply each event's changes to cached totals: after every step they equal a rebuild."""
    folder = Folder(DEFINITION)
    stores: dict[str, MemoryRepStore] = {}
    cached: dict[str, WindowTotals] = {}
    for raw in log:
        event = parse_event(raw)
        store = stores.setdefault(event.rep_id, MemoryRepStore(event.rep_id))
        totals = cached.setdefault(event.rep_id, WindowTotals(WINDOWS))
        totals.current(store, AS_OF)
        result = folder.fold(store, event)
        if result.outcome is Outcome.APPLIED:
            totals.apply(result.changes)
        fresh = WindowTotals(WINDOWS)
        fresh.rebuild(store, AS_OF)
        assert totals.totals == fresh.totals
        assert orjson.dumps(totals.totals) == orjson.dumps(fresh.totals)


def test_current_rebuilds_only_when_the_day_moves() -> None:
    """Same day: the cached object is reused; next day: rebuilt with the new spans."""
    store = MemoryRepStore("ana")
    totals = WindowTotals(["7d"])
    first = totals.current(store, AS_OF)
    assert totals.current(store, AS_OF) is first
    totals.current(store, AS_OF + 1)
    assert totals.spans["7d"].last == AS_OF + 1


@settings(max_examples=60, deadline=None)
@given(log=logs())
def test_totals_moved_on_with_the_event_clock_equal_a_rebuild(log: list[bytes]) -> None:
    """As the worker does: move the totals to the event clock's day, fold, add the changes.

    After every event they equal totals built from scratch, across week, month and
    quarter boundaries and jumps of many days.
    """
    folder = Folder(DEFINITION)
    stores: dict[str, MemoryRepStore] = {}
    cached: dict[str, WindowTotals] = {}
    clock = 0
    for raw in sorted(log, key=lambda line: parse_event(line).occurred_at):
        event = parse_event(raw)
        day = folder.day(event)
        clock = max(clock, day)
        store = stores.setdefault(event.rep_id, MemoryRepStore(event.rep_id))
        totals = cached.setdefault(event.rep_id, WindowTotals(WINDOWS))
        totals.current(store, clock)
        result = folder.fold(store, event, day=day)
        if result.outcome is Outcome.APPLIED:
            totals.apply(result.changes)
        fresh = WindowTotals(WINDOWS)
        fresh.rebuild(store, clock)
        assert totals.totals == fresh.totals, (event.event_id, clock)
    for rep, totals in cached.items():  # and a quiet jump to a later day for everyone
        totals.current(stores[rep], clock + 40)
        fresh = WindowTotals(WINDOWS)
        fresh.rebuild(stores[rep], clock + 40)
        assert totals.totals == fresh.totals
