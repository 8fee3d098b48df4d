"""What the worker publishes on ``crm.dlq`` for a message it could not use."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeadLetter(BaseModel):
    """A rejected message with where it came from and why, so it can be fixed and replayed.

    ``original`` is the message value exactly as received, base64-encoded (it may not
    be UTF-8); ``original_text`` repeats it as text when it is, for people reading.
    """

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    failed_at: datetime
    original: str
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
        reason: str,
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
            failed_at=failed_at,
            original=base64.b64encode(value).decode("ascii"),
            original_text=text,
        )

    def original_bytes(self) -> bytes:
        return base64.b64decode(self.original)
