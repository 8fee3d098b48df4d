"""The scoring core's ``RepStore`` over changelog-backed faust tables.

One small value per key — a rep's day bucket, a seen event id, a deal's deciding
event, a rep's profile — because faust writes a key's whole value to the changelog
on every set. Keys start with the rep id, and every write happens while processing
that rep's event, so it goes to the changelog partition of the rep's input partition.
"""

from __future__ import annotations

from typing import Any

from scorers.calendar import Day
from scorers.counters import Counters
from scorers.state import DealOutcome, RepProfile
from streams.worker import codec

# RocksDB opens a block cache and write buffers per table partition: with 5 tables x 6
# partitions the defaults (hundreds of MB each) would take gigabytes. Our values are
# tiny and hot keys are few, so a few MB each is plenty.
ROCKSDB_OPTIONS: dict[str, Any] = {
    "block_cache_size": 4 * 1024 * 1024,
    "block_cache_compressed_size": 1024 * 1024,
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "max_open_files": 256,
}

TABLE_NAMES = ("buckets", "seen", "deals", "profiles", "clock")


class StateTables:
    """The worker's state tables, declared once on the app."""

    def __init__(self, app: Any, partitions: int, rocksdb: bool) -> None:
        def table(name: str) -> Any:
            return app.Table(
                name,
                key_type=str,
                value_type=bytes,
                partitions=partitions,
                options=dict(ROCKSDB_OPTIONS) if rocksdb else None,
            )

        self.buckets = table("buckets")
        self.seen = table("seen")
        self.deals = table("deals")
        self.profiles = table("profiles")
        self.clock = table("clock")
        """Latest event day per input partition (the event clock survives restarts)."""


class TableRepStore:
    """One rep's state in the tables; implements ``scorers.state.RepStore``.

    Writes wait in the store until ``write_back``: a batch's events of one rep mostly
    land in the same day bucket and profile, so each key goes to its table (and its
    changelog, one Kafka message a write) once a batch, not once an event. Reads see
    the waiting writes. ``write_back`` must run where faust's current event is one of
    this rep's messages: the changelog partition is taken from it.
    """

    __slots__ = (
        "_buckets", "_deals", "_new_days", "_new_deals", "_new_profile", "_profile", "_seen",
        "rep_id", "tables",
    )  # fmt: skip

    def __init__(self, tables: StateTables, rep_id: str) -> None:
        self.tables = tables
        self.rep_id = rep_id
        self._profile: RepProfile | None = None
        self._buckets: dict[Day, Counters | None] = {}
        self._deals: dict[str, DealOutcome | None] = {}
        self._seen: dict[str, Day] = {}
        """Event ids marked in this store and not yet written."""
        self._new_days: set[Day] = set()
        self._new_deals: set[str] = set()
        self._new_profile = False

    def bucket(self, day: Day) -> Counters | None:
        if day not in self._buckets:
            raw = self.tables.buckets.get(f"{self.rep_id}|{day}")
            self._buckets[day] = None if raw is None else codec.decode_bucket(raw)
        return self._buckets[day]

    def put_bucket(self, day: Day, counters: Counters) -> None:
        self._buckets[day] = counters
        self._new_days.add(day)

    def is_seen(self, event_id: str) -> bool:
        return (
            event_id in self._seen or self.tables.seen.get(f"{self.rep_id}|{event_id}") is not None
        )

    def mark_seen(self, event_id: str, day: Day) -> None:
        self._seen[event_id] = day

    def deal(self, deal_id: str) -> DealOutcome | None:
        if deal_id not in self._deals:
            raw = self.tables.deals.get(f"{self.rep_id}|{deal_id}")
            self._deals[deal_id] = None if raw is None else codec.decode_deal(raw)
        return self._deals[deal_id]

    def put_deal(self, deal_id: str, outcome: DealOutcome) -> None:
        self._deals[deal_id] = outcome
        self._new_deals.add(deal_id)

    def profile(self) -> RepProfile:
        if self._profile is None:
            raw = self.tables.profiles.get(self.rep_id)
            self._profile = RepProfile() if raw is None else codec.decode_profile(raw)
        return self._profile

    def put_profile(self, profile: RepProfile) -> None:
        self._profile = profile
        self._new_profile = True

    def write_back(self) -> None:
        """Write what changed to the tables: counts, deals and profile, then seen ids."""
        for day in self._new_days:
            counters = self._buckets[day]
            assert counters is not None
            self.tables.buckets[f"{self.rep_id}|{day}"] = codec.encode_bucket(counters)
        for deal_id in self._new_deals:
            outcome = self._deals[deal_id]
            assert outcome is not None
            self.tables.deals[f"{self.rep_id}|{deal_id}"] = codec.encode_deal(outcome)
        if self._new_profile:
            self.tables.profiles[self.rep_id] = codec.encode_profile(self.profile())
        for event_id, day in self._seen.items():
            self.tables.seen[f"{self.rep_id}|{event_id}"] = str(day).encode()
        self._new_days.clear()
        self._new_deals.clear()
        self._new_profile = False
        self._seen.clear()
