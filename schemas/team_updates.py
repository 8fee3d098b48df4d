"""The worker's team topic: members' window inputs on their way to the team's worker.

Only workers write the topic, but any bytes may reach it (a tool, an operator, a bug), and
the team agent reads whatever is there: so a message is validated here, at the boundary,
and one that is not a team message is a dead letter, never an exception in the agent.
Bounds keep what is accepted scorable: days an ordinal ``date`` takes, totals whose sum
over any team still fits the 64 bits JSON and orjson carry.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, model_validator

from schemas.events import NonEmptyStr, validate_json

Total = Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Days = Annotated[StrictInt, Field(ge=0, le=100_000)]

WireInput = (
    tuple[Annotated[list[Total], Field(max_length=64)], Days, Finite]
    | tuple[Annotated[list[Total], Field(max_length=64)], Days, Finite, Finite | None]
)
"""``scorers.evaluate.input_to_wire``'s list: totals, days, quota[, period quota] (an
input sent before the period quota existed has three)."""


class MemberUpdate(BaseModel):
    model_config = ConfigDict(frozen=True)

    rep_id: NonEmptyStr
    as_of: Annotated[StrictInt, Field(ge=date.min.toordinal(), le=date.max.toordinal())]
    """The ordinal day the member was scored as of."""
    inputs: Annotated[dict[NonEmptyStr, WireInput], Field(max_length=64)] | None = None
    """Window -> input; none: the member left the team."""


class TeamMessage(BaseModel):
    """A team's member updates of one batch (``scorers.effects.team_messages``)."""

    model_config = ConfigDict(frozen=True)

    team_id: NonEmptyStr
    updates: Annotated[list[MemberUpdate], Field(min_length=1, max_length=10_000)]

    @model_validator(mode="before")
    @classmethod
    def _one_member(cls, data: Any) -> Any:
        """A worker before updates were grouped sent one member a message, at the top
        level; an upgrade may leave such messages on the topic."""
        if isinstance(data, dict) and "updates" not in data and "rep_id" in data:
            member = {k: data[k] for k in ("rep_id", "as_of", "inputs") if k in data}
            return {"team_id": data.get("team_id"), "updates": [member]}
        return data


_ADAPTER: TypeAdapter[TeamMessage] = TypeAdapter(TeamMessage)


def parse_team_message(raw: bytes) -> TeamMessage:
    """Decode and validate one team message; raise ``EventError`` naming the field."""
    return validate_json(_ADAPTER, raw)
