"""Write CRM events as JSON Lines: one message value per line, the same bytes Kafka gets.

The file is what ``scorestream replay`` reads and what tests compare byte for byte,
so nothing but the message values goes in (no topic, no key, no timestamps).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from schemas.events import Event
from sinks.exceptions import SinkError
from sinks.wire import WireMessage, as_wire


class JsonlEventWriter:
    """Appends one line per message to a file it creates (or truncates)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._file: BinaryIO = path.open("wb")

    def __enter__(self) -> JsonlEventWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, item: Event | WireMessage) -> None:
        value = as_wire(item).value
        if b"\n" in value:
            raise SinkError(
                f"{self.path}: a message value contains a newline; JSONL cannot hold it"
            )
        self._file.write(value + b"\n")
        self.lines += 1

    def close(self) -> None:
        self._file.close()
