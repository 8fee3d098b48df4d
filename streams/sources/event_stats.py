"""Counts of a stream of outgoing CRM messages, as the simulator and importer report them.

Duplicates and late events are measured here, from what was actually sent, rather
than taken from the generator's intentions: a duplicate is an event id seen
before, a late event arrives after an event with a later ``occurred_at``.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from schemas.events import TOPIC_OF_EVENT_TYPE, Event
from sinks.wire import WireMessage

SEEN_IDS_LIMIT: Final = 200_000
"""Ids remembered for duplicate counting; bounded so an endless live run stays small."""


@dataclass
class EventStats:
    """Running counts per topic and event type, plus duplicates, late and malformed."""

    total: int = 0
    per_topic: Counter[str] = field(default_factory=Counter)
    per_event_type: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    late: int = 0
    malformed: int = 0
    earliest_occurred_at: datetime | None = None
    latest_occurred_at: datetime | None = None
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False)

    def observe(self, item: Event | WireMessage) -> None:
        self.total += 1
        if isinstance(item, WireMessage):
            self.malformed += 1
            self.per_topic[item.topic] += 1
            return
        self.per_topic[TOPIC_OF_EVENT_TYPE[item.event_type]] += 1
        self.per_event_type[item.event_type] += 1
        if item.event_id in self._seen:
            self.duplicates += 1
            return
        self._remember(item.event_id)
        at = item.occurred_at
        if self.latest_occurred_at is not None and at < self.latest_occurred_at:
            self.late += 1
        else:
            self.latest_occurred_at = at
        if self.earliest_occurred_at is None or at < self.earliest_occurred_at:
            self.earliest_occurred_at = at

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        if len(self._seen) > SEEN_IDS_LIMIT:
            self._seen.popitem(last=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.total,
            "per_topic": dict(sorted(self.per_topic.items())),
            "per_event_type": dict(sorted(self.per_event_type.items())),
            "duplicates": self.duplicates,
            "late": self.late,
            "malformed": self.malformed,
            "earliest_occurred_at": _iso(self.earliest_occurred_at),
            "latest_occurred_at": _iso(self.latest_occurred_at),
        }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
