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
