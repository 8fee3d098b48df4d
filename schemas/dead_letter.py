"""What the worker publishes on ``crm.dlq`` for a message it could not use."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Reason(StrEnum):
    """Why a message is a dead letter: a stable code to count and redrive by."""

    INVALID_JSON = "invalid_json"
    """The bytes are not JSON (cut off, an HTML error page, not UTF-8, nested too deep)."""
    INVALID_EVENT = "invalid_event"
    """JSON, but not a valid event of the contract (a field missing, of the wrong type...)."""
    WRONG_KEY = "wrong_key"
    """The Kafka key is not the event's rep_id: it would land on another rep's partition."""
    UNKNOWN_CURRENCY = "unknown_currency"
    """A deal in a currency the scorecard has no FX rate for (add it, then redrive)."""
    TOO_LATE = "too_late"
    """Older than the state the worker keeps (longest window + allowed lateness, or
    ``keep_history_days``)."""
    FUTURE = "future"
    """Dated more than the scorecard's ``max_future_days`` after the wall clock."""
    INTERNAL_ERROR = "internal_error"
    """Handling it raised an unexpected exception (a bug); the worker logged the traceback."""


class DeadLetter(BaseModel):
    """A rejected message with where it came from and why, so it can be fixed and redriven.

    ``original`` is the message value exactly as received, base64-encoded (it may not
    be UTF-8), and ``original_key`` its key; ``original_text`` repeats the value as text
    when it is UTF-8, for people reading.
    """

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    key: str | None
    """The key as text (undecodable bytes replaced), for people."""
    reason: Reason
    detail: str
    """What is wrong, naming the field and the fix."""
    failed_at: datetime
    original: str
    original_key: str | None = None
    original_text: str | None

    @classmethod
    def of(
        cls,
        raw: bytes | None,
        *,
        key: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        reason: Reason,
        detail: str,
        failed_at: datetime,
    ) -> DeadLetter:
        value = raw or b""
        try:
            text: str | None = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            key=None if key is None else key.decode("utf-8", "replace"),
            reason=reason,
            detail=detail,
            failed_at=failed_at,
            original=base64.b64encode(value).decode("ascii"),
            original_key=None if key is None else base64.b64encode(key).decode("ascii"),
            original_text=text,
        )

    def original_bytes(self) -> bytes:
        return base64.b64decode(self.original)

    def original_key_bytes(self) -> bytes | None:
        return None if self.original_key is None else base64.b64decode(self.original_key)
