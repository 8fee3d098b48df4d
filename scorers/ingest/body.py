"""A ``POST /v1/events`` body as events and rejections, line by line.

Every event goes through ``parse_event``, the worker's own contract check, from bytes: an
element of a JSON array is dumped back to JSON first, so the gateway cannot accept what the
worker would dead-letter as invalid, nor refuse what it would take.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import orjson

from schemas.events import Event, parse_event
from schemas.exceptions import EventError
from schemas.ingest import Rejection, RejectReason

JSON: Final = "application/json"
NDJSON: Final = "application/x-ndjson"


@dataclass(frozen=True, slots=True)
class Parsed:
    """The body's valid events, each with its line, and what was refused."""

    events: list[tuple[int, Event]]
    rejected: list[Rejection]


class BodyNotJson(ValueError):
    """A JSON body that does not parse: the request is refused (400), with the place."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class TooManyEvents(ValueError):
    """More events than one request may carry (413)."""


def parse_body(body: bytes, media_type: str, max_events: int) -> Parsed:
    """The events of ``body`` (JSON object, JSON array or NDJSON by ``media_type``).

    Raises ``BodyNotJson`` for a JSON body that does not parse and ``TooManyEvents`` past
    ``max_events``; a bad NDJSON line or array element is a rejection, not an error.
    """
    if media_type == NDJSON:
        lines = [(n, line) for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]
        check_count(len(lines), max_events)
        return _validate(lines)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyNotJson(f"the body is not JSON: {exc.msg}", exc.lineno, exc.colno) from None
    items = document if isinstance(document, list) else [document]
    check_count(len(items), max_events)
    return _validate((n, orjson.dumps(item)) for n, item in enumerate(items, start=1))


def parse_lines(lines: list[tuple[int, bytes]]) -> Parsed:
    """Already numbered JSON texts (a mapping's output) through the same contract check."""
    return _validate(lines)


def check_count(count: int, max_events: int) -> None:
    """``TooManyEvents`` past ``max_events`` (a body's events, or a hook payload's records)."""
    if count > max_events:
        raise TooManyEvents(
            f"{count} events in one request; send at most {max_events} (split the batch)"
        )


def _validate(lines: Iterable[tuple[int, bytes]]) -> Parsed:
    events: list[tuple[int, Event]] = []
    rejected: list[Rejection] = []
    for n, raw in lines:
        if not raw.lstrip().startswith(b"{"):
            rejected.append(_not_object(n, raw))
            continue
        try:
            events.append((n, parse_event(raw)))
        except EventError as exc:
            reason = RejectReason.INVALID_JSON if exc.not_json else RejectReason.INVALID_EVENT
            rejected.append(Rejection(line=n, reason=reason, errors=exc.errors))
    return Parsed(events, rejected)


def _not_object(line: int, raw: bytes) -> Rejection:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection(line=line, reason=RejectReason.INVALID_JSON,
                         errors=[f"not valid JSON: {exc.msg}"])  # fmt: skip
    errors = ["an event is a JSON object ({...}), not another JSON value"]
    return Rejection(line=line, reason=RejectReason.INVALID_EVENT, errors=errors)
