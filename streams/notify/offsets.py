"""Which offsets notify may commit while alerts are still being delivered.

Channels deliver at their own pace (a hung receiver must not hold the others back), so
messages finish out of order. A partition's commit point is the first offset whose
deliveries are not all recorded yet: everything before it is done, and a restart from
there repeats no finished message except through its records' check.
"""

from __future__ import annotations

from collections.abc import Iterable

TopicPartitionKey = tuple[str, int]


class OffsetTracker:
    def __init__(self) -> None:
        self._open: dict[TopicPartitionKey, dict[int, int]] = {}
        """Per partition: offset -> deliveries still owed, in the order consumed."""
        self._next: dict[TopicPartitionKey, int] = {}
        """Per partition: one past the highest offset taken."""
        self._committed: dict[TopicPartitionKey, int] = {}

    def take(self, tp: TopicPartitionKey, offset: int, owed: int) -> None:
        """A consumed message that owes ``owed`` deliveries (0: done at once)."""
        if owed > 0:
            self._open.setdefault(tp, {})[offset] = owed
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def done(self, tp: TopicPartitionKey, offset: int) -> None:
        """One of the message's deliveries is recorded (sent or parked)."""
        pending = self._open.get(tp, {})
        left = pending.get(offset, 0) - 1
        if left > 0:
            pending[offset] = left
        else:
            pending.pop(offset, None)

    def holds(self, tp: TopicPartitionKey) -> bool:
        """Whether messages of ``tp`` were taken and the partition not forgotten since."""
        return tp in self._next

    def in_flight(self, tps: Iterable[TopicPartitionKey] | None = None) -> int:
        """Messages whose deliveries are not all recorded (of ``tps``, or of all)."""
        keys = self._open.keys() if tps is None else tps
        return sum(len(self._open.get(tp, {})) for tp in keys)

    def commit_points(self) -> dict[TopicPartitionKey, int]:
        """Offsets to commit that moved since the last call: the first unfinished one, or
        one past the last message taken."""
        moved = {}
        for tp, end in self._next.items():
            pending = self._open.get(tp)
            point = min(pending) if pending else end
            if point > self._committed.get(tp, -1):
                moved[tp] = point
        return moved

    def committed(self, points: dict[TopicPartitionKey, int]) -> None:
        self._committed.update(points)

    def forget(self, tps: Iterable[TopicPartitionKey]) -> None:
        """Partitions this instance no longer holds (after their last commit)."""
        for tp in tps:
            self._open.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
