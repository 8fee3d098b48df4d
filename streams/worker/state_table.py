"""The worker's state in one changelog-backed faust table, read whole and written per batch.

Reads and writes name their partition: a rep's values live in the partition of its
input messages (every CRM topic is keyed by rep_id and co-partitioned). So the
store is used per partition — a whole partition is read into memory when it is
assigned, and each batch's writes go to the partition's RocksDB and, as one
changelog record each, straight to the producer — rather than through faust's
``Table.__getitem__``/``__setitem__``, which take the partition from the message
being handled and, without one, probe every partition's database.

faust still recovers the table: on assignment it replays the changelog into the
partition's RocksDB before the agent gets a message, and the persisted offset kept
here tells it where to resume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from faust.types import TP

from scorers.calendar import Day
from scorers.state import RepState, RepWrites
from streams.worker import codec, faust_adapter
from streams.worker.codec import Key

TABLE_NAME = "state"

# RocksDB opens a block cache and write buffers per table partition: the defaults
# (hundreds of MB each) would take gigabytes. Values are tiny and read once per
# assignment, so a few MB each is plenty.
ROCKSDB_OPTIONS: dict[str, Any] = {
    "block_cache_size": 4 * 1024 * 1024,
    "block_cache_compressed_size": 1024 * 1024,
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "max_open_files": 256,
}

Produce = Callable[[str, bytes, bytes | None, int], Awaitable[Awaitable[Any]]]
"""(topic, key, value or None for a tombstone, partition) -> the send's delivery future."""


@dataclass(slots=True)
class Loaded:
    """One partition's state, as read when it was assigned."""

    reps: dict[str, RepState] = field(default_factory=dict)
    clock: dict[str, Day] = field(default_factory=dict)


def declare_table(app: Any, name: str, key_type: type, partitions: int | None = None) -> Any:
    """A changelog-backed RocksDB table of raw bytes values, with small RocksDB caches."""
    return app.Table(
        name,
        key_type=key_type,
        value_type=bytes,
        partitions=partitions,
        options=dict(ROCKSDB_OPTIONS),
    )


class StateStore(Protocol):
    """Where the worker keeps its state: the faust table, or ``MemoryStore`` in
    ``tests/streams/worker/test_shell.py``."""

    def load(self, partition: int) -> Loaded: ...
    async def write(self, partition: int, writes: RepWrites) -> None: ...
    async def write_clock(self, partition: int, source: str, day: Day) -> None: ...


class StateTable:
    """``StateStore`` over the faust table ``state`` (RocksDB, changelog-backed)."""

    def __init__(self, app: Any, partitions: int, produce: Produce) -> None:
        self.table = declare_table(app, TABLE_NAME, bytes, partitions)
        self._produce = produce
        self._changelog = self.table.changelog_topic.get_topic_name()

    def load(self, partition: int) -> Loaded:
        loaded = Loaded()
        for raw_key, raw in faust_adapter.partition_items(self.table, partition):
            key = codec.decode_key(raw_key)
            if key.kind == "clock":
                loaded.clock[key.owner] = codec.decode_day(raw)
                continue
            rep = loaded.reps.get(key.owner)
            if rep is None:
                rep = loaded.reps[key.owner] = RepState(key.owner)
            if key.kind == "day":
                assert isinstance(key.item, int)
                rep.buckets[key.item] = codec.decode_bucket(raw)
            elif key.kind == "deal":
                rep.deals[str(key.item)] = codec.decode_deal(raw)
            elif key.kind == "profile":
                rep.rep_profile = codec.decode_profile(raw)
            else:
                rep.rules = codec.decode_rules(raw)
        return loaded

    async def write(self, partition: int, writes: RepWrites) -> None:
        rep = writes.rep_id
        for day, bucket in writes.buckets.items():
            value = None if bucket is None else codec.encode_bucket(bucket)
            await self._put(partition, Key("day", rep, day), value)
        for deal_id, deal in writes.deals.items():
            value = None if deal is None else codec.encode_deal(deal)
            await self._put(partition, Key("deal", rep, deal_id), value)
        if writes.profile is not None:
            await self._put(partition, Key("profile", rep), codec.encode_profile(writes.profile))
        if writes.rules is not None:
            await self._put(partition, Key("rules", rep), codec.encode_rules(writes.rules))

    async def write_clock(self, partition: int, source: str, day: Day) -> None:
        await self._put(partition, Key("clock", source), codec.encode_day(day))

    async def _put(self, partition: int, key: Key, value: bytes | None) -> None:
        raw_key = codec.encode_key(key)
        # A batch ends while faust waits for acks during a rebalance, after it closed the
        # revoked partitions' databases: their records go to the changelog only, which is
        # where the partition's next owner (maybe us again) recovers them from.
        db = faust_adapter.open_partition_db(self.table, partition)
        if db is not None:
            if value is None:
                db.delete(raw_key)
            else:
                db.put(raw_key, value)
        delivery = await self._produce(self._changelog, raw_key, value, partition)
        delivery.add_done_callback(self._persisted)  # type: ignore[attr-defined]

    def _persisted(self, delivery: Any) -> None:
        """Remember the changelog offset the local store holds, as faust's own writes do: a
        restart replays the changelog from there."""
        if delivery.cancelled() or delivery.exception() is not None:
            return
        meta = delivery.result()
        self.table.data.set_persisted_offset(TP(meta.topic, meta.partition), meta.offset)
