"""The HubSpot and Salesforce presets on payloads written from the vendors' documents
(docs/examples/hooks/, the same files the README tries), and owners through the directory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.events import (
    CallLogged,
    CallOutcome,
    DealLost,
    DealStageChanged,
    DealWon,
    RepUpserted,
)
from schemas.ingest import RejectReason
from schemas.mapping import load_preset, parse_mapping
from scorers.ingest import salesforce
from scorers.ingest.directory import OwnerDirectory
from scorers.ingest.mapping import apply_mapping
from tests.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "docs" / "examples" / "hooks"


def rep(rep_id: str, **owners: str) -> RepUpserted:
    return RepUpserted(
        event_id=f"dir-{rep_id}",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        rep_id=rep_id,
        team_id="team-1",
        name=rep_id,
        crm_owner_ids=owners,
    )


@pytest.fixture(name="directory")
def fixture_directory() -> OwnerDirectory:
    directory = OwnerDirectory()
    directory.upsert(rep("rep-ada", hubspot="4711", salesforce="0055g00000AbCdEAAV"))
    directory.upsert(rep("rep-bo", hubspot="4712"))
    return directory


def example(name: str) -> Any:
    return orjson.loads((EXAMPLES / name).read_bytes())


def test_hubspot_workflow_deal_won_legacy_shape(directory: OwnerDirectory) -> None:
    parsed = apply_mapping(load_preset("hubspot"), example("hubspot-deal-won.json"), directory)
    assert parsed.rejected == []
    [(line, event)] = parsed.events
    assert line == 1 and isinstance(event, DealWon)
    assert event.rep_id == "rep-ada"
    assert event.deal_id == "hubspot:1246965"
    assert event.event_id == "hubspot:deal:1246965:closedwon:1764590401000"
    assert event.amount == 12000.0 and event.currency == "USD"
    assert event.occurred_at == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)  # closedate, in ms
    assert event.opened_at == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)


def test_hubspot_crm_object_shape_open_stage(directory: OwnerDirectory) -> None:
    parsed = apply_mapping(load_preset("hubspot"), example("hubspot-deal-stage.json"), directory)
    [(_, event)] = parsed.events
    assert isinstance(event, DealStageChanged)
    assert (event.stage, event.amount) == ("presentationscheduled", 8500.5)
    assert event.expected_close is not None and event.expected_close.isoformat() == "2025-12-20"
    assert event.occurred_at == datetime(2025, 12, 1, 10, 30, tzinfo=UTC)


def test_hubspot_call(directory: OwnerDirectory) -> None:
    parsed = apply_mapping(load_preset("hubspot"), example("hubspot-call.json"), directory)
    [(_, event)] = parsed.events
    assert isinstance(event, CallLogged)
    assert (event.duration_seconds, event.outcome) == (312.0, CallOutcome.CONNECTED)
    assert event.event_id == "hubspot:call:88213"


def test_a_redelivery_is_the_same_event_and_a_new_stage_a_new_one(
    directory: OwnerDirectory,
) -> None:
    payload = example("hubspot-deal-stage.json")
    first = apply_mapping(load_preset("hubspot"), payload, directory).events[0][1]
    again = apply_mapping(load_preset("hubspot"), payload, directory).events[0][1]
    payload["properties"] |= {
        "dealstage": "contractsent",
        "hs_lastmodifieddate": "2025-12-03T08:00:00.000Z",
    }
    moved = apply_mapping(load_preset("hubspot"), payload, directory).events[0][1]
    assert first.event_id == again.event_id != moved.event_id


def test_unknown_ambiguous_and_missing_owners_are_refused(directory: OwnerDirectory) -> None:
    payload = example("hubspot-call.json")
    directory.upsert(rep("rep-cy", hubspot="4712"))  # now shared with rep-bo
    records = [
        {**payload, "properties": {**payload["properties"], "hubspot_owner_id": "999"}},
        {**payload, "properties": {**payload["properties"], "hubspot_owner_id": "4712"}},
        {
            **payload,
            "properties": {
                k: v for k, v in payload["properties"].items() if k != "hubspot_owner_id"
            },
        },
        {"properties": {"firstname": "a contact, not a deal"}},
        payload,
    ]
    parsed = apply_mapping(load_preset("hubspot"), records, directory)
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (1, RejectReason.UNKNOWN_OWNER),
        (2, RejectReason.AMBIGUOUS_OWNER),
        (3, RejectReason.UNKNOWN_OWNER),
        (4, RejectReason.UNMAPPED),
    ]
    assert "crm_owner_ids.hubspot" in parsed.rejected[0].errors[0]
    assert "rep-bo, rep-cy" in parsed.rejected[1].errors[0]
    assert [n for n, _ in parsed.events] == [5]


def test_a_directory_update_moves_the_owner(directory: OwnerDirectory) -> None:
    directory.upsert(rep("rep-ada", hubspot="5000"))
    directory.upsert(rep("rep-dee", hubspot="4711"))
    parsed = apply_mapping(load_preset("hubspot"), example("hubspot-call.json"), directory)
    assert parsed.events[0][1].rep_id == "rep-dee"


def test_salesforce_outbound_message(directory: OwnerDirectory) -> None:
    document = salesforce.outbound_records((EXAMPLES / "salesforce-opportunity.xml").read_bytes())
    assert document["organization_id"] == "00D5g000001abcDEAQ"
    parsed = apply_mapping(load_preset("salesforce"), document, directory)
    assert parsed.rejected == []
    [(_, won), (_, call)] = parsed.events
    assert isinstance(won, DealWon) and isinstance(call, CallLogged)
    assert (won.rep_id, won.amount, won.deal_id) == (
        "rep-ada",
        25000.0,
        "salesforce:0065g00000QwErTAAV",
    )
    # A bare close date is noon UTC; the win can never precede the opening.
    assert won.occurred_at == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert (call.outcome, call.duration_seconds) == (CallOutcome.MEETING_BOOKED, 540.0)


def test_salesforce_flow_json(directory: OwnerDirectory) -> None:
    parsed = apply_mapping(load_preset("salesforce"), example("salesforce-flow.json"), directory)
    [(_, lost)] = parsed.events
    assert isinstance(lost, DealLost) and lost.rep_id == "rep-ada"


def test_salesforce_xml_attacks_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><notifications>&b;</notifications>'
    )
    with pytest.raises(salesforce.NotOutboundMessage):
        salesforce.outbound_records(bomb)
    with pytest.raises(salesforce.NotOutboundMessage, match="Outbound Message"):
        salesforce.outbound_records(b"<html><body>not soap</body></html>")
    with pytest.raises(salesforce.NotOutboundMessage):
        salesforce.outbound_records(b"\xff\xfe<a")


def test_a_users_mapping_with_rep_ids_and_lookups() -> None:
    """A source that carries our rep ids needs no directory; a lookup table maps codes."""
    mapping = parse_mapping(
        """
source: dialer
auth: {scheme: shared_secret, secret_env: DIALER_SECRET}
records: "calls"
kinds:
  - event: call_logged
    fields:
      event_id: "join(':', ['dialer', uuid])"
      rep_id: "agent"
      occurred_at: "iso_time(started_ms)"
      call_id: "uuid"
      duration_seconds: "seconds"
      outcome: {expr: "result", map: {ANSWERED: connected, VM: voicemail}}
""",
        "dialer.yaml",
    )
    payload = {
        "calls": [
            {
                "uuid": "u1",
                "agent": "rep-ada",
                "started_ms": 1764590400000,
                "seconds": 30,
                "result": "VM",
            },
            {
                "uuid": "u2",
                "agent": "rep-ada",
                "started_ms": 1764590400000,
                "seconds": 30,
                "result": "??",
            },
        ]
    }
    parsed = apply_mapping(mapping, payload, OwnerDirectory())
    call = parsed.events[0][1]
    assert isinstance(call, CallLogged) and call.outcome is CallOutcome.VOICEMAIL
    assert [(r.line, r.reason) for r in parsed.rejected] == [(2, RejectReason.INVALID_EVENT)]
    assert parsed.rejected[0].errors == ["outcome: Field required"]


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-Infinity", "1e999"])
def test_number_reads_no_nan_or_infinity_from_text(text: str) -> None:
    """``float`` reads these; no amount is one, so ``number`` gives null and the contract
    names the field, rather than a NaN reaching the event's own check."""
    from schemas.mapping_functions import FUNCTIONS

    assert FUNCTIONS.call_function("number", [text]) is None
    assert FUNCTIONS.call_function("number", ["1250.5"]) == 1250.5
    assert FUNCTIONS.call_function("number", [7]) == 7
