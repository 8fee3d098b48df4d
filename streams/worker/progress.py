"""How far the worker has got through its input partitions: lag, and whether it has caught up.

A worker that is catching up (after a start, a restart, a rebalance or downtime, or
when it falls behind) sees state that is not final yet, so it raises no alerts and
scores only now and then; once every assigned input partition has been handled to
its end it is caught up, and stays so until the newest message it handled is older
than ``behind_s`` while messages wait (it fell behind), or its partitions move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]
Lag = dict[TopicPartition, int | None]
"""Messages not yet handled per assigned input partition (None: its end is not known yet)."""


@dataclass(slots=True)
class Progress:
    behind_s: float
    handled: dict[TopicPartition, int] = field(default_factory=dict)
    """The next offset to handle per input partition (one past the last handled)."""
    caught_up: bool = False
    newest_s: float | None = None
    """Record time of the newest message handled (now, whenever nothing was unread)."""

    def reset(self) -> None:
        """Partitions moved: start over (not caught up)."""
        self.handled.clear()
        self.caught_up = False
        self.newest_s = None

    def after(self, batch: Iterable[tuple[TopicPartition, int]]) -> dict[TopicPartition, int]:
        """``handled`` once a batch of (partition, offset)s is handled too."""
        out = dict(self.handled)
        for tp, offset in batch:
            if offset + 1 > out.get(tp, 0):
                out[tp] = offset + 1
        return out

    def update(self, handled: dict[TopicPartition, int], newest_s: float | None, lag: Lag) -> bool:
        """Take a handled batch and the lag after it; True when the worker just caught up."""
        self.handled = handled
        if newest_s is not None and (self.newest_s is None or newest_s > self.newest_s):
            self.newest_s = newest_s
        return self.observe(lag)

    def observe(self, lag: Lag, now_s: float | None = None) -> bool:
        """Whether the worker is caught up, given ``lag``; True once, when it just caught up."""
        now_s = time.time() if now_s is None else now_s
        was = self.caught_up
        if all(n == 0 for n in lag.values()):
            self.caught_up = True
            self.newest_s = now_s  # nothing unread: as current as can be
        elif self.newest_s is not None and now_s - self.newest_s > self.behind_s:
            self.caught_up = False
        return self.caught_up and not was


def lag_of(
    inputs: Collection[str],
    assigned: Iterable[TopicPartition],
    handled: Mapping[TopicPartition, int],
    end: Callable[[TopicPartition], int | None],
    committed: Callable[[TopicPartition], int | None],
) -> Lag:
    """Unhandled messages per assigned input partition. ``end`` is the partition's high
    watermark as the consumer last saw it; ``committed`` where the group left a partition
    not handled since this worker got it."""
    out: Lag = {}
    for tp in assigned:
        if tp[0] not in inputs:
            continue
        high = end(tp)
        done = handled.get(tp)
        if done is None:
            done = committed(tp) or 0
        out[tp] = None if high is None else max(0, high - done)
    return out


def lagging(lag: Lag) -> set[str]:
    """The input partitions with unread messages, as the event clock names them."""
    return {f"{topic}|{partition}" for (topic, partition), n in lag.items() if n != 0}
