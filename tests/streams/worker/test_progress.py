"""What pacing knows of the consumer: whether messages wait beyond an open batch."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from schemas.scorecard_definition import load_definition
from scorers.clock import ClockMode
from scorers.rep_scoring import Layout
from streams.worker.memory import Memory
from streams.worker.progress import Consumer, Fetched, Pace

CALLS, DEALS, TEAMS = "crm.calls", "crm.deals", "scorestream-team-updates"


def pace(ends: dict[tuple[str, int], int | None], committed: dict[tuple[str, int], int]) -> Pace:
    consumer = Consumer(lambda: set(ends), ends.__getitem__, committed.get)
    return Pace(ClockMode.EVENT, (CALLS, DEALS), consumer, behind_s=5.0)


def test_messages_wait_when_the_consumer_has_seen_offsets_past_the_open_batch() -> None:
    ends: dict[tuple[str, int], int | None] = {(CALLS, 0): 10, (DEALS, 1): 4, (TEAMS, 0): 99}
    p = pace(ends, committed={(DEALS, 1): 4})
    assert p.waiting({(CALLS, 0): 9}), "offset 9 of crm.calls/0 is not in the batch"
    assert not p.waiting({(CALLS, 0): 10}), "the batch holds up to the end; deals committed"
    ends[(DEALS, 1)] = 5
    assert p.waiting({(CALLS, 0): 10}), "a deal came after the committed offset"


def test_handled_batches_count_and_an_unknown_end_or_other_topic_holds_nothing() -> None:
    ends: dict[tuple[str, int], int | None] = {(CALLS, 0): 10, (DEALS, 1): None, (TEAMS, 0): 9}
    p = pace(ends, committed={})
    assert p.waiting({})
    p.progress.handled[(CALLS, 0)] = 10
    assert not p.waiting({}), "handled to the end; the team topic is not an input"


def test_the_assignment_is_read_again_after_a_rebalance() -> None:
    """``waiting`` keeps the input partitions ``lag`` read (faust's assignment is costly to
    read per message); a rebalance's ``reset`` makes it read them again."""
    ends: dict[tuple[str, int], int | None] = {(CALLS, 0): 10}
    p = pace(ends, committed={(CALLS, 0): 10})
    assert p.lag() == {(CALLS, 0): 0}
    ends[(DEALS, 2)] = 3  # newly assigned, with three deals unread
    assert not p.waiting({}), "the assignment as read before"
    p.reset()
    assert p.waiting({})


def test_a_caught_up_worker_needs_no_tick_while_messages_arrive_until_it_falls_behind() -> None:
    """Messages waiting for the next batch are how a live stream looks: a tick then would
    only end the open batch early. Once the newest message handled is ``behind_s`` old
    while some wait, the worker is behind, and a tick is what says so."""
    ends: dict[tuple[str, int], int | None] = {(CALLS, 0): 10}
    p = pace(ends, committed={})
    p.progress.handled[(CALLS, 0)] = 10
    start = time.time()
    assert p.progress.observe(p.lag(), start), "nothing unread: just caught up"
    memory = Memory(rescore_all=False)
    layout = Layout.of(load_definition())
    ends[(CALLS, 0)] = 12  # two more, not in a batch yet
    assert not p.needs_tick(memory, layout, datetime.now(UTC))
    assert p.progress.caught_up_given(p.lag(), start + 4.9)
    assert not p.progress.caught_up_given(p.lag(), start + 5.1), "behind after behind_s"
    p.progress.newest_s = start - 6
    assert p.needs_tick(memory, layout, datetime.now(UTC)), "falling behind needs a tick"
    p.progress.handled[(CALLS, 0)] = 12
    assert p.progress.caught_up_given(p.lag(), start + 60), "nothing unread: caught up"


def test_transaction_markers_after_the_last_record_handled_are_no_lag() -> None:
    """A transactional producer's commit marker takes an offset no consumer is given: once
    every record fetched is handled, nothing up to the consumer's position waits."""
    tp = (CALLS, 0)
    ends: dict[tuple[str, int], int | None] = {tp: 11}  # records 0-9, the marker at 10
    fetched: dict[tuple[str, int], Fetched] = {tp: Fetched(11, 10)}
    p = Pace(ClockMode.EVENT, (CALLS,), Consumer(lambda: set(ends), ends.__getitem__,
             {}.get, fetched.get), behind_s=5.0)  # fmt: skip
    p.progress.handled[tp] = 10
    assert p.lag() == {tp: 0}
    assert not p.waiting({})
    ends[tp], fetched[tp] = 13, Fetched(13, 12)  # record 11 fetched, not handled; its marker at 12
    assert p.lag() == {tp: 3}, "a record waits: the lag counts from the last handled"
    assert p.waiting({})
    assert not p.waiting({tp: 12}), "the open batch holds it"
    p.progress.handled[tp] = 12
    assert p.lag() == {tp: 0}
    ends[tp] = 15  # more written, not fetched yet: they count
    assert p.lag() == {tp: 2}
    p.progress.handled[tp] = 4  # handled less than was fetched (seeks back): as before
    assert p.lag() == {tp: 11}
