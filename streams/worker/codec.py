"""The worker's state table: keys and compact values, one record per rep and thing.

One faust table holds every kind of value (one changelog topic, one RocksDB per
partition); the key says what a value is. Keys are JSON arrays, so ids holding any
character stay unambiguous. faust writes a key's whole value to the changelog on
every set, so values are short: a day bucket is its counts as a JSON array and the
raw 16-byte digests of its events after a newline (~40 bytes + 16 an event); a deal's
amount, close day and stage carry their event's key only when another event than the
deciding one set them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from scorers.calendar import Day
from scorers.counters import WIDTH
from scorers.state import (
    Bucket,
    DealState,
    OrderKey,
    RepProfile,
    RuleBook,
    RuleState,
    Stamped,
)

Kind = Literal["day", "deal", "profile", "rules", "clock"]


@dataclass(frozen=True, slots=True)
class Key:
    kind: Kind
    owner: str
    """The rep (or, for the clock, the input partition ``topic|partition``)."""
    item: str | int | None = None
    """The day of a bucket, the id of a deal."""


def encode_key(key: Key) -> bytes:
    parts: list[str | int] = [key.kind, key.owner]
    if key.item is not None:
        parts.append(key.item)
    return orjson.dumps(parts)


def decode_key(raw: bytes) -> Key:
    parts = orjson.loads(raw)
    return Key(parts[0], parts[1], parts[2] if len(parts) > 2 else None)


def encode_bucket(bucket: Bucket) -> bytes:
    return orjson.dumps(bucket.counters) + b"\n" + bucket.ids


def decode_bucket(raw: bytes) -> Bucket:
    head, _, ids = raw.partition(b"\n")
    counters: list[int] = orjson.loads(head)
    if len(counters) < WIDTH:  # written before a counter was added
        counters.extend([0] * (WIDTH - len(counters)))
    return Bucket(tuple(counters), ids)


def encode_deal(deal: DealState) -> bytes:
    parts: list[Any] = [deal.key[0], deal.key[1], deal.day, deal.kind, deal.delta]
    stamps = (deal.amount, deal.close, deal.stage)
    if any(stamps):  # a deal known only by its outcome keeps its short, older form
        parts += [_stamp(s, deal.key) for s in stamps]
    return orjson.dumps(parts)


def decode_deal(raw: bytes) -> DealState:
    us, event_id, day, kind, delta, *stamps = orjson.loads(raw)
    key = (us, event_id)
    amount, close, stage = (_unstamp(s, key) for s in stamps) if stamps else (None,) * 3
    return DealState(key, day, kind, tuple((i, a) for i, a in delta), amount, close, stage)


def _stamp(stamped: Stamped[Any] | None, deciding: OrderKey) -> list[Any] | None:
    """``[value]`` when the deciding event set it, else ``[us, event_id, value]``."""
    if stamped is None:
        return None
    if stamped.key == deciding:
        return [stamped.value]
    return [stamped.key[0], stamped.key[1], stamped.value]


def _unstamp(raw: list[Any] | None, deciding: OrderKey) -> Stamped[Any] | None:
    if raw is None:
        return None
    if len(raw) == 1:
        return Stamped(deciding, raw[0])
    return Stamped((int(raw[0]), str(raw[1])), raw[2])


def encode_profile(profile: RepProfile) -> bytes:
    return orjson.dumps(
        [
            profile.name,
            profile.monthly_quota,
            profile.directory_team,
            profile.directory_key,
            profile.event_team,
            profile.event_team_key,
            profile.first_day,
        ]
    )


def decode_profile(raw: bytes) -> RepProfile:
    name, quota, team, key, event_team, event_key, first_day = orjson.loads(raw)
    return RepProfile(
        name, quota, team, _order_key(key), event_team, _order_key(event_key), first_day
    )


def encode_rules(book: RuleBook) -> bytes:
    return orjson.dumps(
        {
            "states": {r: [s.active, s.last_fired] for r, s in book.states.items()},
            "outbox": list(book.outbox),
        }
    )


def decode_rules(raw: bytes) -> RuleBook:
    data = orjson.loads(raw)
    return RuleBook(
        {rule: RuleState(bool(active), last) for rule, (active, last) in data["states"].items()},
        tuple(data["outbox"]),
    )


def encode_day(day: Day) -> bytes:
    return str(day).encode()


def decode_day(raw: bytes) -> Day:
    return int(raw)


def _order_key(value: Any) -> OrderKey | None:
    return None if value is None else (int(value[0]), str(value[1]))
