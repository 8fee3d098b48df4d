"""What the scoring core remembers per rep, behind a small interface it owns.

The fold reads and writes one rep's state through ``RepStore``. The replay keeps it
in memory (``MemoryRepStore``); the stream keeps it in changelog-backed faust
tables, one small value per key (a day's bucket, a deal's outcome, a seen id),
because faust writes a key's whole value to the changelog on every set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from scorers.calendar import Day
from scorers.counters import Counters, Delta

OrderKey = tuple[int, str]
"""How CRM events of one thing are ordered: (occurred_at in epoch µs, event_id)."""


@dataclass(frozen=True, slots=True)
class DealOutcome:
    """The deal event that decides a deal's outcome: the latest by ``OrderKey``.

    ``delta`` is what the deal adds to the bucket of ``day`` (nothing for a
    reopened deal), so a newer event can take exactly that back.
    """

    key: OrderKey
    day: Day
    kind: str
    delta: Delta


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
    """The earliest day with a counted event: the rep "has activity" as of any later day."""

    @property
    def team_id(self) -> str | None:
        """The directory's team when there is one, else the team the latest event named."""
        return self.directory_team if self.directory_key is not None else self.event_team


class RepStore(Protocol):
    """One rep's state as the fold needs it."""

    rep_id: str

    def bucket(self, day: Day) -> Counters | None: ...
    def put_bucket(self, day: Day, counters: Counters) -> None: ...
    def is_seen(self, event_id: str) -> bool: ...
    def mark_seen(self, event_id: str, day: Day) -> None: ...
    def deal(self, deal_id: str) -> DealOutcome | None: ...
    def put_deal(self, deal_id: str, outcome: DealOutcome) -> None: ...
    def profile(self) -> RepProfile: ...
    def put_profile(self, profile: RepProfile) -> None: ...


@dataclass(slots=True)
class MemoryRepStore:
    """``RepStore`` in plain dicts: the replay's state, and the reference for tests."""

    rep_id: str
    buckets: dict[Day, Counters] = field(default_factory=dict)
    seen: dict[str, Day] = field(default_factory=dict)
    deals: dict[str, DealOutcome] = field(default_factory=dict)
    rep_profile: RepProfile = field(default_factory=RepProfile)

    def bucket(self, day: Day) -> Counters | None:
        return self.buckets.get(day)

    def put_bucket(self, day: Day, counters: Counters) -> None:
        self.buckets[day] = counters

    def is_seen(self, event_id: str) -> bool:
        return event_id in self.seen

    def mark_seen(self, event_id: str, day: Day) -> None:
        self.seen[event_id] = day

    def deal(self, deal_id: str) -> DealOutcome | None:
        return self.deals.get(deal_id)

    def put_deal(self, deal_id: str, outcome: DealOutcome) -> None:
        self.deals[deal_id] = outcome

    def profile(self) -> RepProfile:
        return self.rep_profile

    def put_profile(self, profile: RepProfile) -> None:
        self.rep_profile = profile

    def evict_before(self, day: Day) -> None:
        """Forget what no window can reach any more.

        A deal decided before ``day`` can be forgotten too: any event still
        accepted is newer, so it would decide the deal anyway.
        """
        self.buckets = {d: c for d, c in self.buckets.items() if d >= day}
        self.seen = {e: d for e, d in self.seen.items() if d >= day}
        self.deals = {k: o for k, o in self.deals.items() if o.day >= day}
