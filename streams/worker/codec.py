"""Compact wire forms of the state values, for changelog-backed tables.

faust writes a key's whole value to the changelog on every set, so each value is a
short JSON array, not an object with field names: a day bucket is ~40 bytes, a
deal outcome ~70, a profile ~80.
"""

from __future__ import annotations

from typing import Any

import orjson

from scorers.counters import WIDTH, Counters
from scorers.state import DealOutcome, OrderKey, RepProfile


def encode_bucket(counters: Counters) -> bytes:
    return orjson.dumps(counters)


def decode_bucket(raw: bytes) -> Counters:
    counters: Counters = orjson.loads(raw)
    if len(counters) < WIDTH:  # a bucket written before a counter was added
        counters.extend([0] * (WIDTH - len(counters)))
    return counters


def encode_deal(outcome: DealOutcome) -> bytes:
    return orjson.dumps([outcome.key[0], outcome.key[1], outcome.day, outcome.kind, outcome.delta])


def decode_deal(raw: bytes) -> DealOutcome:
    us, event_id, day, kind, delta = orjson.loads(raw)
    return DealOutcome((us, event_id), day, kind, tuple((i, a) for i, a in delta))


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
    return RepProfile(name, quota, team, _key(key), event_team, _key(event_key), first_day)


def _key(value: Any) -> OrderKey | None:
    return None if value is None else (int(value[0]), str(value[1]))
