"""The CRM event contract: what is accepted, and what is refused with which field named."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from schemas.events import (
    EVENT_MODELS,
    TOPIC_OF_EVENT_TYPE,
    DealOpened,
    DealStageChanged,
    event_to_json,
    parse_event,
)
from schemas.exceptions import EventError

ENVELOPE = {"event_id": "e-1", "occurred_at": "2026-03-02T09:30:00+01:00", "rep_id": "rep-ana"}

VALID: dict[str, dict[str, Any]] = {
    "deal_opened": {
        "deal_id": "d-3",
        "amount": 9000,
        "currency": "EUR",
        "stage": "qualified",
        "expected_close": "2026-04-30",
    },
    "deal_stage_changed": {"deal_id": "d-3", "stage": "proposal"},
    "deal_won": {"deal_id": "d-1", "amount": 1200.5, "opened_at": "2026-02-01T10:00:00Z"},
    "deal_lost": {"deal_id": "d-2", "opened_at": "2026-02-01T10:00:00-05:00"},
    "deal_reopened": {"deal_id": "d-1"},
    "call_logged": {"call_id": "c-1", "duration_seconds": 95, "outcome": "meeting_booked"},
    "nps_response": {"account_id": "a-1", "score": 9, "comment": "great"},
    "lead_converted": {"lead_id": "l-1"},
    "lead_disqualified": {"lead_id": "l-2"},
    "account_renewed": {"account_id": "a-1"},
    "account_churned": {"account_id": "a-2"},
    "course_completed": {"course_id": "negotiation-101", "hours": 1.5},
    "rep_upserted": {"name": "Ana Ruiz", "team_id": "team-north", "monthly_quota": 50000},
}

# One broken variant per type: (event_type, change to the valid example, field the error names)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("deal_won", {"amount": -1}, "amount"),
    ("deal_won", {"amount": "lots"}, "amount"),
    (
        "deal_won",
        {"opened_at": "2026-02-01T10:00:00"},
        "opened_at: needs an ISO 8601 date-time with a UTC offset",
    ),
    ("deal_won", {"opened_at": "2026-04-01T10:00:00Z"}, "opened_at: is after occurred_at"),
    ("deal_won", {"currency": "dollars"}, "currency"),
    ("deal_opened", {"amount": None}, "amount"),
    ("deal_opened", {"amount": -1}, "amount"),
    ("deal_opened", {"currency": "eur"}, "currency"),
    ("deal_opened", {"stage": ""}, "stage"),
    # A close date is a YYYY-MM-DD string: not a number (Unix time), not a time, not 30 Feb.
    ("deal_opened", {"expected_close": 0}, "expected_close: needs a YYYY-MM-DD date"),
    ("deal_opened", {"expected_close": "2026-04-30T10:00:00Z"}, "expected_close: needs a YYYY"),
    ("deal_opened", {"expected_close": "2026-02-30"}, "expected_close"),
    ("deal_stage_changed", {"stage": None}, "stage"),
    ("deal_stage_changed", {"amount": float("nan")}, "amount"),
    ("deal_lost", {"opened_at": None}, "opened_at"),
    ("deal_reopened", {"deal_id": ""}, "deal_id"),
    ("call_logged", {"outcome": "hung_up"}, "outcome"),
    ("call_logged", {"duration_seconds": -3}, "duration_seconds"),
    ("nps_response", {"score": 11}, "score"),
    ("nps_response", {"score": 7.5}, "score"),
    ("nps_response", {"score": "9"}, "score"),
    ("lead_converted", {"lead_id": None}, "lead_id"),
    ("lead_disqualified", {"lead_id": 7}, "lead_id"),
    ("account_renewed", {"account_id": ""}, "account_id"),
    ("account_churned", {"account_id": None}, "account_id"),
    ("course_completed", {"hours": -0.5}, "hours"),
    ("rep_upserted", {"team_id": None}, "team_id"),
    ("rep_upserted", {"monthly_quota": -10}, "monthly_quota"),
    # Time is an ISO string with an offset: pydantic would read numbers as Unix time.
    ("call_logged", {"occurred_at": 0}, "occurred_at: needs an ISO 8601"),
    ("call_logged", {"occurred_at": "0"}, "occurred_at: needs an ISO 8601"),
    ("call_logged", {"occurred_at": "1764000000"}, "occurred_at: needs an ISO 8601"),
    ("deal_won", {"opened_at": 1.5e9}, "opened_at: needs an ISO 8601"),
    ("deal_won", {"amount": 1e300}, "amount"),
    ("call_logged", {"event_id": ""}, "event_id"),
    ("call_logged", {"rep_id": "r" * 300}, "rep_id"),
]


def test_infinite_and_not_a_number_amounts_are_invalid() -> None:
    """1e400 is read as infinity and NaN is not JSON at all: neither reaches scoring."""
    valid = message("deal_won").decode()
    assert '"amount": 1200.5' in valid
    for bad in ("1e400", "NaN", "-Infinity"):
        with pytest.raises(EventError, match="amount: "):
            parse_event(valid.replace('"amount": 1200.5', f'"amount": {bad}'))


def message(event_type: str, **changes: Any) -> bytes:
    body = {**ENVELOPE, "event_type": event_type, **VALID[event_type], **changes}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def test_every_event_type_has_a_valid_example_and_a_topic() -> None:
    """The examples cover the whole contract, so a new event type cannot go untested."""
    types = {m.model_fields["event_type"].default for m in EVENT_MODELS}
    assert types == set(VALID) == set(TOPIC_OF_EVENT_TYPE)


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_valid_example_parses_and_round_trips(event_type: str) -> None:
    """Each valid example parses to its model, and its wire form parses back to the same."""
    event = parse_event(message(event_type))
    assert event.event_type == event_type
    assert event.occurred_at.utcoffset() is not None
    assert parse_event(event_to_json(event)) == event


@pytest.mark.parametrize(("event_type", "change", "field"), INVALID)
def test_invalid_example_names_the_field(
    event_type: str, change: dict[str, Any], field: str
) -> None:
    """A wrong value is refused with an error that names the field."""
    raw = message(event_type, **change)  # a None in `change` leaves the field out
    with pytest.raises(EventError, match=field):
        parse_event(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "message: Input should be an object"),
        (json.dumps({**ENVELOPE, "event_type": "deal_teleported"}).encode(), "unknown event type"),
        (json.dumps(ENVELOPE).encode(), "event_type: field required"),
        (message("call_logged", occurred_at="2026-03-02 09:30:00"), "occurred_at"),
        (message("call_logged", rep_id=""), "rep_id"),
        (message("call_logged", event_id=""), "event_id"),
    ],
)
def test_envelope_errors(raw: bytes, reason: str) -> None:
    """Unparsable JSON, unknown types and a bad envelope are invalid, with a reason."""
    with pytest.raises(EventError, match=reason):
        parse_event(raw)


def test_unknown_fields_are_ignored_not_invalid() -> None:
    """CRMs add fields: they are dropped before scoring, and the event stays valid."""
    event = parse_event(message("lead_converted", crm_owner="someone", score=3))
    assert event.event_type == "lead_converted"
    assert "crm_owner" not in event.model_dump()


def test_offsets_are_kept_and_team_is_optional() -> None:
    """A non-UTC offset is kept as sent; team_id may be absent or given."""
    event = parse_event(message("account_renewed", team_id="team-south"))
    assert event.occurred_at.utcoffset().total_seconds() == 3600  # type: ignore[union-attr]
    assert event.team_id == "team-south"
    assert parse_event(message("account_renewed")).team_id is None


def test_deal_won_currency_defaults_to_usd() -> None:
    event = parse_event(message("deal_won"))
    assert event.currency == "USD"  # type: ignore[union-attr]


def test_deal_opened_defaults_stage_open_and_the_scorecards_currency() -> None:
    """A deal opened with only its amount: stage "open", no currency (the scorecard's
    reporting currency applies), no expected close; a stage change needs only its stage."""
    opened = parse_event(message("deal_opened", currency=None, stage=None, expected_close=None))
    assert isinstance(opened, DealOpened)
    assert (opened.stage, opened.currency, opened.expected_close) == ("open", None, None)
    staged = parse_event(message("deal_stage_changed"))
    assert isinstance(staged, DealStageChanged)
    assert (staged.amount, staged.currency, staged.expected_close) == (None, None, None)
    dated = parse_event(message("deal_opened"))
    assert isinstance(dated, DealOpened) and dated.expected_close == date(2026, 4, 30)


def test_rep_upserted_may_name_the_reps_and_the_managers_email() -> None:
    """Optional, so every directory event sent before them stays valid; an address that is
    not one is refused by name (it would decide who sees whose coaching)."""
    assert parse_event(message("rep_upserted")).email is None  # type: ignore[union-attr]
    rep = parse_event(message("rep_upserted", email="ana@x.com", manager_email="mia@x.com"))
    assert (rep.email, rep.manager_email) == ("ana@x.com", "mia@x.com")  # type: ignore[union-attr]
    with pytest.raises(EventError, match="manager_email"):
        parse_event(message("rep_upserted", manager_email="mia at x"))
