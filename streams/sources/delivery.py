"""How CRM events reach Kafka in practice: redelivered, late, and paced in real time.

The simulator's events are produced in order; a CRM's webhooks do not deliver them so:
``Delivery`` plays the faults over the in-order stream, and ``paced`` plays a stream at
a rate on a clock (injected, so tests run live mode on fake time).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TypeAlias, TypeVar

from schemas.events import Event

T = TypeVar("T")

Clock: TypeAlias = Callable[[], datetime]
"""Returns the current time, tz-aware; injected so tests can run live mode on fake time."""

Sleep: TypeAlias = Callable[[float], None]
"""Blocks for a number of seconds; the fake in tests advances its clock instead."""


class Delivery:
    """The faults between a CRM and Kafka, played over an in-order stream.

    A late event is held back until the stream's event time has moved past it by a
    random lateness; a duplicate is the same model object sent again a few messages
    later, so its id and content are identical to the first delivery.
    """

    def __init__(
        self,
        rng: random.Random,
        duplicate_share: float,
        late_share: float,
        lateness: tuple[timedelta, timedelta],
    ) -> None:
        self._rng = rng
        self._duplicate_share = duplicate_share
        self._late_share = late_share
        self._lateness = lateness
        self._late: list[tuple[datetime, int, Event]] = []
        self._redeliveries: list[tuple[int, int, Event]] = []
        self._seq = itertools.count()
        self._sent = 0

    def offer(self, event: Event) -> list[Event]:
        """What goes out once ``event`` is produced in order (maybe nothing, maybe more)."""
        out: list[Event] = []
        if self._rng.random() < self._late_share:
            low, high = self._lateness
            release = event.occurred_at + low + (high - low) * self._rng.random()
            heapq.heappush(self._late, (release, next(self._seq), event))
            return out
        while self._late and self._late[0][0] <= event.occurred_at:
            self._send(heapq.heappop(self._late)[2], out)
        self._send(event, out)
        return out

    def drain(self) -> list[Event]:
        """Everything still held, for the end of a finite stream."""
        out: list[Event] = []
        while self._late:
            self._send(heapq.heappop(self._late)[2], out)
        out.extend(event for _, _, event in sorted(self._redeliveries))
        self._redeliveries.clear()
        return out

    def _send(self, event: Event, out: list[Event]) -> None:
        out.append(event)
        self._sent += 1
        while self._redeliveries and self._redeliveries[0][0] <= self._sent:
            out.append(heapq.heappop(self._redeliveries)[2])
            self._sent += 1
        if self._rng.random() < self._duplicate_share:
            after = self._sent + self._rng.randint(1, 20)
            heapq.heappush(self._redeliveries, (after, next(self._seq), event))


def paced(items: Iterable[T], rate: float, clock: Clock, sleep: Sleep) -> Iterator[T]:
    """Yield ``items`` at ``rate`` per second on ``clock``, pulling each one when due.

    Pulling after the wait (not before) keeps a live event's time equal to the moment
    it is sent. The schedule is absolute (start + n/rate), so slow consumers catch up
    instead of drifting.
    """
    iterator = iter(items)
    started = clock()
    for n in itertools.count():
        wait = (started + timedelta(seconds=n / rate) - clock()).total_seconds()
        if wait > 0:
            sleep(wait)
        try:
            yield next(iterator)
        except StopIteration:
            return
