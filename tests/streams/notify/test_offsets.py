"""Commit points: never past a message whose deliveries are not all recorded."""

from __future__ import annotations

from streams.notify.offsets import OffsetTracker

TP = ("scorecards.alerts", 0)


def test_the_commit_point_waits_for_the_oldest_unfinished_message() -> None:
    tracker = OffsetTracker()
    tracker.take(TP, 10, owed=2)  # two channels
    tracker.take(TP, 11, owed=0)  # routed nowhere
    tracker.take(TP, 12, owed=1)
    assert tracker.commit_points() == {TP: 10}
    tracker.committed({TP: 10})
    tracker.done(TP, 12)  # a fast channel finished a later message first
    tracker.done(TP, 10)
    assert tracker.commit_points() == {}  # 10 still owes one delivery
    tracker.done(TP, 10)
    assert tracker.commit_points() == {TP: 13}
    tracker.committed({TP: 13})
    assert tracker.commit_points() == {} and tracker.in_flight() == 0


def test_partitions_move_independently_and_can_be_forgotten() -> None:
    other = ("scorecards.alerts", 1)
    tracker = OffsetTracker()
    tracker.take(TP, 0, owed=1)
    tracker.take(other, 5, owed=1)
    tracker.done(other, 5)
    assert tracker.commit_points() == {TP: 0, other: 6}
    assert tracker.in_flight([TP]) == 1 and tracker.in_flight([other]) == 0
    tracker.forget([TP])
    assert tracker.in_flight() == 0
    assert not tracker.holds(TP) and tracker.holds(other)
