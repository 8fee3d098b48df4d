"""The wire form of a CRM message: topic, key and value bytes, ready for any sink.

Events become wire messages in one place (``encode_event``), so a file and Kafka
carry the same bytes. Tests and the simulator also build malformed wire messages
directly, which is the point of keeping this separate from the models.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import TOPIC_OF_EVENT_TYPE, Event, event_to_json


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One message as it travels: ``note`` says why it is malformed, if it is."""

    topic: str
    key: bytes
    value: bytes
    note: str | None = None


def encode_event(event: Event) -> WireMessage:
    """An event on its topic (``TOPIC_OF_EVENT_TYPE``), keyed by rep_id for co-partitioning."""
    return WireMessage(
        topic=TOPIC_OF_EVENT_TYPE[event.event_type],
        key=event.rep_id.encode(),
        value=event_to_json(event),
    )


def as_wire(item: Event | WireMessage) -> WireMessage:
    return item if isinstance(item, WireMessage) else encode_event(item)
