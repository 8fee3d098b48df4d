"""The CRM event contract: one pydantic model per event type, one union to parse them all.

Every event is JSON, UTF-8, one per Kafka message keyed by ``rep_id``. The union is
discriminated on ``event_type`` so pydantic picks the model from that field alone and
an error names the field that is wrong. Unknown fields are ignored (CRMs add fields
all the time) and never reach scoring.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from schemas import topics
from schemas.exceptions import EventError

T = TypeVar("T")

NonEmptyStr = Annotated[str, Field(min_length=1, max_length=256)]
"""Ids and names: never empty, and short enough that a hostile one cannot bloat state."""

Email = Annotated[str, Field(max_length=256, pattern=r"^[^@\s]+@[^@\s]+$")]
"""An e-mail address as an identity provider reports it (compared case-blind)."""

_ISO_DATE_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
_NOT_ISO = "must be an ISO 8601 date-time string with a UTC offset"


def _iso_text(value: Any) -> Any:
    if isinstance(value, datetime):  # built in Python (simulator, import), not from JSON
        return value
    if not isinstance(value, str) or not re.match(_ISO_DATE_TIME, value):
        raise PydanticCustomError("iso_timestamp", _NOT_ISO)
    return value


class _IsoText:
    """Only ISO strings: pydantic reads numbers, and strings of digits, as Unix time ("0"
    would be 1970-01-01). From JSON the check runs in pydantic-core (it runs for every
    event); from Python (datetimes built by the simulator) in ``_iso_text``."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        moment = handler(source)
        text = core_schema.str_schema(pattern=_ISO_DATE_TIME, strict=True)
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema(
                [
                    core_schema.custom_error_schema(
                        text, "iso_timestamp", custom_error_message=_NOT_ISO
                    ),
                    moment,
                ]
            ),
            python_schema=core_schema.no_info_before_validator_function(_iso_text, moment),
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def epoch_us(when: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding), for ordering and durations."""
    return (when - _EPOCH) // _ONE_US


Timestamp = Annotated[AwareDatetime, _IsoText]
"""An ISO 8601 date-time string with an offset (``2026-11-27T09:30:00+01:00``); nothing else."""

Money = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
"""An amount: finite, not negative, at most a quadrillion (sums of them stay exact)."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 code (``USD``, ``EUR``)."""

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date_text(value: Any) -> Any:
    # As for timestamps: pydantic would read a number as Unix time (0 is 1970-01-01).
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PydanticCustomError("iso_date", "must be a YYYY-MM-DD date")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
"""A calendar date as ``YYYY-MM-DD`` text (``2026-12-15``); nothing else."""


class CallOutcome(StrEnum):
    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    MEETING_BOOKED = "meeting_booked"


class EventBase(BaseModel):
    """The envelope every CRM event carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: NonEmptyStr
    occurred_at: Timestamp
    rep_id: NonEmptyStr
    team_id: Annotated[str, Field(max_length=256)] | None = None

    @cached_property
    def occurred_us(self) -> int:
        """``occurred_at`` as ``epoch_us``: the intake, the day and the order all need it."""
        return epoch_us(self.occurred_at)


class _ClosedDeal(EventBase):
    """A deal that closed: it must have opened first (the sales cycle is never negative)."""

    deal_id: NonEmptyStr
    opened_at: Timestamp

    @model_validator(mode="after")
    def _opened_before_closed(self) -> _ClosedDeal:
        if self.opened_at > self.occurred_at:
            raise PydanticCustomError(
                "opened_after_close",
                "opened_at: is after occurred_at; a deal opens before it closes",
            )
        return self


class DealOpened(EventBase):
    """A deal enters the pipeline: its expected amount, stage and close date."""

    event_type: Literal["deal_opened"] = "deal_opened"
    deal_id: NonEmptyStr
    amount: Money
    currency: Currency | None = None
    """The amount's currency; absent: the scorecard's reporting currency."""
    stage: NonEmptyStr = "open"
    expected_close: IsoDate | None = None


class DealStageChanged(EventBase):
    """An open deal moves to another stage; an amount or close date it leaves out stands."""

    event_type: Literal["deal_stage_changed"] = "deal_stage_changed"
    deal_id: NonEmptyStr
    stage: NonEmptyStr
    amount: Money | None = None
    currency: Currency | None = None
    """The amount's currency; absent: the scorecard's reporting currency."""
    expected_close: IsoDate | None = None


class DealWon(_ClosedDeal):
    event_type: Literal["deal_won"] = "deal_won"
    amount: Money
    currency: Currency = "USD"


class DealLost(_ClosedDeal):
    event_type: Literal["deal_lost"] = "deal_lost"


class DealReopened(EventBase):
    event_type: Literal["deal_reopened"] = "deal_reopened"
    deal_id: NonEmptyStr


class CallLogged(EventBase):
    event_type: Literal["call_logged"] = "call_logged"
    call_id: NonEmptyStr
    duration_seconds: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)]
    outcome: CallOutcome


class NpsResponse(EventBase):
    event_type: Literal["nps_response"] = "nps_response"
    account_id: NonEmptyStr
    score: Annotated[int, Field(ge=0, le=10, strict=True)]
    comment: Annotated[str, Field(max_length=10_000)] | None = None


class LeadConverted(EventBase):
    event_type: Literal["lead_converted"] = "lead_converted"
    lead_id: NonEmptyStr


class LeadDisqualified(EventBase):
    event_type: Literal["lead_disqualified"] = "lead_disqualified"
    lead_id: NonEmptyStr


class AccountRenewed(EventBase):
    event_type: Literal["account_renewed"] = "account_renewed"
    account_id: NonEmptyStr


class AccountChurned(EventBase):
    event_type: Literal["account_churned"] = "account_churned"
    account_id: NonEmptyStr


class CourseCompleted(EventBase):
    event_type: Literal["course_completed"] = "course_completed"
    course_id: NonEmptyStr
    hours: Annotated[float, Field(ge=0, le=1_000, allow_inf_nan=False)]


CrmName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
"""A CRM's name as the gateway's hook path spells it (``hubspot``, ``salesforce``)."""


class RepUpserted(EventBase):
    """The rep directory (compacted ``crm.reps``): name, team and quota of a rep."""

    event_type: Literal["rep_upserted"] = "rep_upserted"
    name: NonEmptyStr
    team_id: NonEmptyStr  # required here, optional elsewhere
    monthly_quota: Money | None = None
    crm_owner_ids: Annotated[dict[CrmName, NonEmptyStr], Field(max_length=16)] | None = None
    """The rep's user id in each CRM (``{"hubspot": "4711"}``): how ``scorestream ingest``
    turns a CRM record's owner into this rep_id."""
    email: Email | None = None
    """Who the rep is when they sign in to ``scorestream serve``."""
    manager_email: Email | None = None
    """Their manager, who then sees the rep's team on ``serve``."""


Event: TypeAlias = Annotated[
    DealOpened
    | DealStageChanged
    | DealWon
    | DealLost
    | DealReopened
    | CallLogged
    | NpsResponse
    | LeadConverted
    | LeadDisqualified
    | AccountRenewed
    | AccountChurned
    | CourseCompleted
    | RepUpserted,
    Field(discriminator="event_type"),
]
"""Any CRM event; ``event_type`` picks the model."""

EVENT_MODELS: tuple[type[EventBase], ...] = (
    DealOpened,
    DealStageChanged,
    DealWon,
    DealLost,
    DealReopened,
    CallLogged,
    NpsResponse,
    LeadConverted,
    LeadDisqualified,
    AccountRenewed,
    AccountChurned,
    CourseCompleted,
    RepUpserted,
)

TOPIC_OF_EVENT_TYPE: dict[str, str] = {
    "deal_opened": topics.DEALS,
    "deal_stage_changed": topics.DEALS,
    "deal_won": topics.DEALS,
    "deal_lost": topics.DEALS,
    "deal_reopened": topics.DEALS,
    "call_logged": topics.CALLS,
    "nps_response": topics.NPS,
    "lead_converted": topics.LEADS,
    "lead_disqualified": topics.LEADS,
    "account_renewed": topics.ACCOUNTS,
    "account_churned": topics.ACCOUNTS,
    "course_completed": topics.LEARNING,
    "rep_upserted": topics.REPS,
}
"""Where each event type is published; every topic is keyed by ``rep_id``."""

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def describe_validation_error(exc: ValidationError) -> str:
    """One line a person can act on: each failing field's path and what is wrong."""
    return "; ".join(validation_errors(exc))


def validation_errors(exc: ValidationError) -> list[str]:
    """Each failing field's path and what is wrong, one entry a field."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        # pydantic puts the union member first ("deal_won.amount"); the field is the rest.
        if loc and loc[0] in TOPIC_OF_EVENT_TYPE:
            loc = loc[1:]
        field = ".".join(str(p) for p in loc) or "message"
        if err["type"] == "union_tag_invalid":
            parts.append(f"event_type: unknown event type {err['ctx']['tag']!r}")
        elif err["type"] == "union_tag_not_found":
            parts.append("event_type: field required")
        elif err["type"] == "json_invalid":
            parts.append(f"not valid JSON: {err['ctx'].get('error', err['msg'])}")
        elif err["type"] == "opened_after_close":
            parts.append(err["msg"])
        elif err["type"] == "iso_date":
            parts.append(f"{field}: needs a YYYY-MM-DD date, e.g. 2026-12-15")
        elif err["type"] in ("timezone_aware", "iso_timestamp"):
            parts.append(
                f"{field}: needs an ISO 8601 date-time with a UTC offset,"
                " e.g. 2026-11-27T09:30:00+01:00"
            )
        else:
            parts.append(f"{field}: {err['msg']}")
    return parts


def parse_event(raw: bytes | str) -> Event:
    """Decode and validate one message; raise EventError naming the field on failure."""
    return validate_json(_EVENT_ADAPTER, raw)


def validate_json(adapter: TypeAdapter[T], raw: bytes | str) -> T:
    """``adapter.validate_json``, raising EventError naming each field that fails."""
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        not_json = any(err["type"] == "json_invalid" for err in exc.errors(include_url=False))
        errors = validation_errors(exc)
        raise EventError("; ".join(errors), not_json=not_json, errors=errors) from None


def event_to_json(event: EventBase) -> bytes:
    """The wire form of an event: compact JSON, unset optional fields left out."""
    return event.model_dump_json(exclude_none=True).encode()
