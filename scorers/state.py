"""What the scoring core remembers per rep, as values that survive any crash.

The stream keeps each value in a changelog-backed table, and a worker can die
between any two of a batch's writes, so no value may need another's write to make
sense (DESIGN.md, "State that survives any crash"):

- a day's ``Bucket`` holds its counts *and* the digests of the events folded into
  it: dedupe and count change in one record;
- a ``DealState`` is the deal's latest deciding event by ``OrderKey``, and beside it the
  latest event that carried an amount, a close date, a stage (each a max by key):
  applying an event twice, or out of order, gives the same value;
- a ``RepProfile`` keeps each part with the key of the event that set it (latest
  wins) and the earliest day (min); the ``RuleBook`` carries the alerts it raised
  until they are sent (an outbox).

The replay and the worker keep these values in a ``RepState`` per rep; the fold
and the planner only read it and return new values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from scorers.calendar import Day
from scorers.counters import WIDTH, Delta

OrderKey = tuple[int, str]
"""How CRM events of one thing are ordered: (occurred_at in epoch µs, event_id)."""

DIGEST_BYTES = 16
"""An event id's digest in a bucket: 128 bits, so two ids of one rep and day never collide
in practice, and a bucket grows by 16 bytes an event whatever the ids look like."""


def event_digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=DIGEST_BYTES).digest()


@dataclass(frozen=True, slots=True)
class Bucket:
    """One rep's day: its activity counts and the digests of the events folded into it."""

    counters: tuple[int, ...]
    ids: bytes = b""
    """``DIGEST_BYTES`` per event, in the order folded."""

    def holds(self, digest: bytes) -> bool:
        at = self.ids.find(digest)
        while at >= 0:
            if at % DIGEST_BYTES == 0:
                return True
            at = self.ids.find(digest, at + 1)
        return False

    def with_event(self, digest: bytes, delta: Delta) -> Bucket:
        counters = list(self.counters)
        for index, amount in delta:
            counters[index] += amount
        return Bucket(tuple(counters), self.ids + digest)

    @property
    def events(self) -> int:
        return len(self.ids) // DIGEST_BYTES


EMPTY_BUCKET = Bucket((0,) * WIDTH)


V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Stamped(Generic[V]):
    """A value with the key of the event that carried it: the later key wins."""

    key: OrderKey
    value: V


def later(a: Stamped[V] | None, b: Stamped[V] | None) -> Stamped[V] | None:
    """The one of two stamped values with the later key (max by key: order-free, idempotent)."""
    if a is None:
        return b
    if b is None or a.key >= b.key:
        return a
    return b


OPEN_KINDS = frozenset({"opened", "stage_changed", "reopened"})
"""A deal whose deciding event is one of these is open (in the pipeline)."""


@dataclass(frozen=True, slots=True)
class DealState:
    """A deal as its events leave it: decided by the latest deal event by ``OrderKey``.

    ``delta`` is what the deal adds to the counts of ``day`` (nothing unless won or lost);
    a window's deal KPIs sum the deltas of the deals whose day it holds. ``amount`` (in the
    reporting currency's millionths), ``close`` and ``stage`` come each from the latest
    event that carried one, which need not be the deciding event: a stage change without
    an amount leaves the amount as it was. Every part is a max by key, so the value is the
    same whatever order its events arrive in, and however often.
    """

    key: OrderKey
    day: Day
    kind: str
    delta: Delta
    amount: Stamped[int] | None = None
    close: Stamped[Day] | None = None
    """The expected close day."""
    stage: Stamped[str] | None = None

    @property
    def decided(self) -> bool:
        """Won or lost: nothing before ``day`` can change it, so it can be evicted."""
        return self.kind in ("won", "lost")

    @property
    def open(self) -> bool:
        """In the pipeline as of ``day`` and after (never evicted)."""
        return self.kind in OPEN_KINDS

    def merged(self, other: DealState) -> DealState:
        """Both events' parts together: the later deciding event, and each part's latest."""
        deciding = self if self.key >= other.key else other
        return DealState(
            deciding.key,
            deciding.day,
            deciding.kind,
            deciding.delta,
            later(self.amount, other.amount),
            later(self.close, other.close),
            later(self.stage, other.stage),
        )


@dataclass(frozen=True, slots=True)
class RepProfile:
    """Directory facts about a rep; each part is kept with the key of the event that set it."""

    name: str | None = None
    monthly_quota: float | None = None
    directory_team: str | None = None
    directory_key: OrderKey | None = None
    event_team: str | None = None
    event_team_key: OrderKey | None = None
    first_day: Day | None = None
    """The earliest day with an event: the rep "has activity" as of any later day."""

    @property
    def team_id(self) -> str | None:
        """The directory's team when there is one, else the team the latest event named."""
        return self.directory_team if self.directory_key is not None else self.event_team

    def has_activity(self, up_to: Day) -> bool:
        """Whether the rep has at least one counted event on or before ``up_to``."""
        return self.first_day is not None and self.first_day <= up_to


@dataclass(frozen=True, slots=True)
class RuleState:
    """Per rep and rule: is the condition true now, and when did the rule last fire."""

    active: bool = False
    last_fired: Day | None = None


@dataclass(frozen=True, slots=True)
class RuleBook:
    """A rep's coaching-rule states, and the alerts raised but not yet known to be sent.

    Raising an alert and recording that it fired are one write: a worker that dies
    before the send finds the alert here and sends it (the same ``alert_id``) again.
    """

    states: Mapping[str, RuleState] = field(default_factory=dict)
    outbox: tuple[dict[str, Any], ...] = ()
    """``CoachingAlert`` bodies (JSON-ready) waiting for Kafka's acknowledgement."""


class RepReader(Protocol):
    """One rep's state as the fold reads it."""

    rep_id: str

    def bucket(self, day: Day) -> Bucket | None: ...
    def deal(self, deal_id: str) -> DealState | None: ...
    def profile(self) -> RepProfile: ...


@dataclass(slots=True)
class RepState:
    """Everything kept about one rep: the replay's state, and the worker's copy of its tables."""

    rep_id: str
    rep_profile: RepProfile = field(default_factory=RepProfile)
    buckets: dict[Day, Bucket] = field(default_factory=dict)
    deals: dict[str, DealState] = field(default_factory=dict)
    rules: RuleBook = field(default_factory=RuleBook)

    def copy(self) -> RepState:
        """A copy whose buckets and deals can change without touching this one (their values
        are immutable, so they are shared)."""
        return RepState(
            self.rep_id, self.rep_profile, dict(self.buckets), dict(self.deals), self.rules
        )

    def bucket(self, day: Day) -> Bucket | None:
        return self.buckets.get(day)

    def deal(self, deal_id: str) -> DealState | None:
        return self.deals.get(deal_id)

    def profile(self) -> RepProfile:
        return self.rep_profile

    def apply(self, writes: RepWrites) -> None:
        """Take a plan's writes for this rep (None deletes)."""
        for day, bucket in writes.buckets.items():
            if bucket is None:
                self.buckets.pop(day, None)
            else:
                self.buckets[day] = bucket
        for deal_id, deal in writes.deals.items():
            if deal is None:
                self.deals.pop(deal_id, None)
            else:
                self.deals[deal_id] = deal
        if writes.profile is not None:
            self.rep_profile = writes.profile
        if writes.rules is not None:
            self.rules = writes.rules


@dataclass(slots=True)
class RepWrites:
    """The values a batch writes for one rep: every key it touched, changed or not (None is a
    deletion). Writing back an unchanged value is what puts a value the local store holds,
    but the changelog may not, into the changelog after a crash."""

    rep_id: str
    buckets: dict[Day, Bucket | None] = field(default_factory=dict)
    deals: dict[str, DealState | None] = field(default_factory=dict)
    profile: RepProfile | None = None
    rules: RuleBook | None = None

    def records(self) -> int:
        """How many table records (changelog messages) these writes are."""
        profile, rules = self.profile is not None, self.rules is not None
        return len(self.buckets) + len(self.deals) + profile + rules

    def __bool__(self) -> bool:
        return self.records() > 0


def evictions(state: RepState, floor: Day) -> RepWrites:
    """Deletions of what no window can reach any more: days before ``floor``, and deals
    decided before it (any event still accepted is newer, so it would decide them anyway)."""
    return RepWrites(
        state.rep_id,
        buckets=dict.fromkeys((d for d in state.buckets if d < floor), None),
        deals=dict.fromkeys(
            (k for k, deal in state.deals.items() if deal.decided and deal.day < floor), None
        ),
    )
