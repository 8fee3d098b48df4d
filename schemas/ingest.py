"""The ingest gateway's answers: what a CRM or a client is told about the events it posted.

A request is answered ``200`` once every accepted event is on its Kafka topic; each event
that could not be accepted is named by its line with a reason code and the errors, in the
dead letters' shape (``schemas.dead_letter``), so one fix serves both.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.dead_letter import Reason


class RejectReason(StrEnum):
    """Why the gateway did not accept one event of a request (the request itself went on)."""

    INVALID_JSON = Reason.INVALID_JSON.value
    """The line is not JSON (an NDJSON line cut off, not UTF-8, nested too deep)."""
    INVALID_EVENT = Reason.INVALID_EVENT.value
    """JSON, but not an event of the contract (not an object, a field missing or wrong)."""
    UNMAPPED = "unmapped"
    """A CRM record that no kind of the source's mapping turns into an event."""
    UNKNOWN_OWNER = "unknown_owner"
    """The record's owner is no rep's CRM owner id (add it to the rep's ``crm_owner_ids``)."""
    AMBIGUOUS_OWNER = "ambiguous_owner"
    """More than one rep claims the record's owner id; fix the rep directory."""


class Rejection(BaseModel):
    """One event the gateway refused, and why."""

    model_config = ConfigDict(frozen=True)

    line: int = Field(ge=1, description="Position in the body, from 1: the NDJSON line, the"
                      " JSON array's element, or the CRM payload's record.")  # fmt: skip
    reason: RejectReason
    errors: list[str] = Field(description="What is wrong, one entry per field, with the fix.")


class IngestAnswer(BaseModel):
    """The ``200`` answer: every accepted event is stored on its topic."""

    model_config = ConfigDict(frozen=True)

    accepted: int = Field(ge=0, description="Events now on their Kafka topics.")
    rejected: list[Rejection] = Field(description="Events not accepted, in body order.")


class Problem(BaseModel):
    """Any other answer (400, 401, 413, 415, 429, 503): what went wrong and what to do."""

    detail: str
    line: int | None = Field(default=None, description="400: where the body stops being JSON.")
    column: int | None = None
