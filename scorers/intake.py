"""What a consumed message is: an event to fold, or a dead letter with its reason.

Everything about a message alone is decided here — bytes, contract, key, time
sanity — so the worker and the tests see one rule. What needs the rep's state or
the clock (an unknown currency, too late) is decided by the fold.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from schemas.dead_letter import Reason
from schemas.events import Event, parse_event
from schemas.exceptions import EventError
from scorers.calendar import Day
from scorers.counters import US_PER_DAY
from scorers.fold import Folder


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed Kafka record, as the worker hands it over."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp: float | None = None
    """The record's timestamp in seconds (producer time), for latency."""

    @property
    def source(self) -> str:
        """The input partition it came from, as the event clock names it."""
        return f"{self.topic}|{self.partition}"


@dataclass(frozen=True, slots=True)
class Accepted:
    message: Message
    event: Event
    day: Day


@dataclass(frozen=True, slots=True)
class Rejected:
    message: Message
    reason: Reason
    detail: str
    trace: str | None = None
    """The traceback of an ``internal_error``, for the log."""

    @classmethod
    def of_error(cls, message: Message, exc: EventError) -> Rejected:
        """A message that does not decode or validate: not JSON, or not the contract."""
        return cls(message, Reason.INVALID_JSON if exc.not_json else Reason.INVALID_EVENT, str(exc))


def decode(
    folder: Folder, message: Message, now_us: int, *, keyed: bool = True
) -> Accepted | Rejected:
    """Parse and check one message; whatever it holds, never raise. ``keyed``: a Kafka
    message, whose key must be the event's rep (a log line for the replay has none)."""
    try:
        return _decode(folder, message, now_us, keyed)
    except Exception as exc:  # a bug must cost one message, never the worker
        return Rejected(
            message, Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", traceback.format_exc()
        )


def _decode(folder: Folder, message: Message, now_us: int, keyed: bool) -> Accepted | Rejected:
    try:
        event = parse_event(message.value or b"")
    except EventError as exc:
        return Rejected.of_error(message, exc)
    if keyed and message.key != event.rep_id.encode():
        # Keyed otherwise, it lands on another rep's partition: its state would split.
        detail = f"key {message.key!r} is not the event's rep_id {event.rep_id!r}"
        return Rejected(message, Reason.WRONG_KEY, detail)
    limit = now_us + round(folder.definition.max_future_days * US_PER_DAY)
    if event.occurred_us > limit:
        detail = (
            f"occurred_at {event.occurred_at.isoformat()} is more than"
            f" {folder.definition.max_future_days:g} days after the wall clock"
            " (max_future_days in the scorecard); is the sender's clock right?"
        )
        return Rejected(message, Reason.FUTURE, detail)
    return Accepted(message, event, folder.day(event))
