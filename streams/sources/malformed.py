"""Malformed CRM messages, made from real events, to prove the dead-letter path.

Each one is what a broken integration really sends: a cut-off JSON body, an HTML
error page, a field of the wrong type, an event type nobody knows, a missing field.
They go on the topic of the event they were made from, keyed by its rep, so the
worker sees them where it would see the real thing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import orjson

from schemas.events import Event
from sinks.wire import WireMessage, encode_event

Breaker = Callable[[dict[str, Any], bytes, random.Random], tuple[bytes, str]]
"""Turns one event (as a dict and as its JSON) into malformed bytes and a note why."""


def _truncated(_: dict[str, Any], raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    return raw[: rng.randint(1, len(raw) - 2)], "invalid JSON: truncated body"


def _html(_: dict[str, Any], __: bytes, ___: random.Random) -> tuple[bytes, str]:
    return b"<html><body><h1>502 Bad Gateway</h1></body></html>", "invalid JSON: HTML error page"


def _wrong_type(data: dict[str, Any], _: bytes, rng: random.Random) -> tuple[bytes, str]:
    field, value = rng.choice([("occurred_at", "last tuesday"), ("rep_id", 42)])
    return orjson.dumps({**data, field: value}), f"wrong type: {field}={value!r}"


def _naive_time(data: dict[str, Any], _: bytes, __: random.Random) -> tuple[bytes, str]:
    naive = str(data["occurred_at"])[:19]  # drop the UTC offset
    return orjson.dumps({**data, "occurred_at": naive}), "wrong type: occurred_at without offset"


def _unknown_type(data: dict[str, Any], _: bytes, __: random.Random) -> tuple[bytes, str]:
    return orjson.dumps({**data, "event_type": "deal_teleported"}), "unknown event_type"


def _missing_field(data: dict[str, Any], _: bytes, __: random.Random) -> tuple[bytes, str]:
    rest = {key: value for key, value in data.items() if key != "event_id"}
    return orjson.dumps(rest), "missing field: event_id"


BREAKERS: Final[tuple[Breaker, ...]] = (
    _truncated,
    _html,
    _wrong_type,
    _naive_time,
    _unknown_type,
    _missing_field,
)


def malformed_from(event: Event, rng: random.Random) -> WireMessage:
    """A malformed message on ``event``'s topic and key; ``note`` says what is wrong."""
    wire = encode_event(event)
    value, note = rng.choice(BREAKERS)(orjson.loads(wire.value), wire.value, rng)
    return WireMessage(topic=wire.topic, key=wire.key, value=value, note=note)


def inject_malformed(
    events: Iterable[Event], share: float, rng: random.Random
) -> Iterator[Event | WireMessage]:
    """Pass every event through and, after a ``share`` of them, add a malformed message.

    Added, never substituted: the valid stream stays complete, which is what lets a
    test check that nothing valid is lost next to the bad messages.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"malformed share must be between 0 and 1, got {share}")
    for event in events:
        yield event
        if share and rng.random() < share:
            yield malformed_from(event, rng)
