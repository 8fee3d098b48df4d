"""A POST /v1/events body as events and rejections: every line named once, nothing lost."""

from __future__ import annotations

import orjson
import pytest

from schemas.events import CallLogged
from schemas.ingest import RejectReason
from scorers.ingest.body import JSON, NDJSON, BodyNotJson, TooManyEvents, parse_body


def call(n: int) -> dict[str, object]:
    return {"event_type": "call_logged", "event_id": f"c-{n}", "rep_id": "rep-ada",
            "occurred_at": "2026-12-01T10:00:00+01:00", "call_id": f"call-{n}",
            "duration_seconds": 60, "outcome": "connected"}  # fmt: skip


def test_ndjson_names_each_bad_line_and_skips_blank_ones() -> None:
    """Blank lines count as lines (numbers match an editor's) but are neither events nor errors."""
    lines = [orjson.dumps(call(1)), b"", b"{not json", b"[1, 2]", b"  ", orjson.dumps(call(2)),
             b'{"event_type": "call_logged"}', b"\xff\xfe", b"42"]  # fmt: skip
    parsed = parse_body(b"\n".join(lines) + b"\n", NDJSON, max_events=100)
    assert [(n, e.event_id) for n, e in parsed.events] == [(1, "c-1"), (6, "c-2")]
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (3, RejectReason.INVALID_JSON),
        (4, RejectReason.INVALID_EVENT),
        (7, RejectReason.INVALID_EVENT),
        (8, RejectReason.INVALID_JSON),
        (9, RejectReason.INVALID_EVENT),
    ]
    missing = parsed.rejected[2].errors
    assert "rep_id: Field required" in missing and "outcome: Field required" in missing


def test_crlf_lines_parse() -> None:
    body = orjson.dumps(call(1)) + b"\r\n" + orjson.dumps(call(2)) + b"\r\n"
    assert len(parse_body(body, NDJSON, max_events=10).events) == 2


def test_json_array_positions_and_single_object() -> None:
    body = orjson.dumps([call(1), {"event_type": "nope"}, "text", call(3)])
    parsed = parse_body(body, JSON, max_events=10)
    assert [n for n, _ in parsed.events] == [1, 4]
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (2, RejectReason.INVALID_EVENT), (3, RejectReason.INVALID_EVENT)
    ]  # fmt: skip
    assert "unknown event type 'nope'" in parsed.rejected[0].errors[0]
    single = parse_body(orjson.dumps(call(7)), JSON, max_events=1)
    assert isinstance(single.events[0][1], CallLogged) and single.rejected == []


def test_the_contract_is_the_workers() -> None:
    """A number where the contract wants an ISO time is refused, as the worker would."""
    event = {**call(1), "occurred_at": 1764583200}
    parsed = parse_body(orjson.dumps([event]), JSON, max_events=10)
    assert parsed.events == []
    assert "ISO 8601" in parsed.rejected[0].errors[0]


def test_a_json_body_that_does_not_parse_names_the_place() -> None:
    with pytest.raises(BodyNotJson) as caught:
        parse_body(b'[\n  {"a": 1},\n  {"b": ', JSON, max_events=10)
    assert (caught.value.line, caught.value.column) == (3, 9)


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    with pytest.raises(BodyNotJson):
        parse_body(b"[" * 100_000 + b"]" * 100_000, JSON, max_events=10)
    parsed = parse_body(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, NDJSON, max_events=10)
    assert parsed.rejected[0].reason in (RejectReason.INVALID_JSON, RejectReason.INVALID_EVENT)


def test_too_many_events() -> None:
    with pytest.raises(TooManyEvents, match="at most 2"):
        parse_body(b"\n".join(orjson.dumps(call(n)) for n in range(3)), NDJSON, max_events=2)
    with pytest.raises(TooManyEvents):
        parse_body(orjson.dumps([call(n) for n in range(3)]), JSON, max_events=2)
