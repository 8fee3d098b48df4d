"""The API's bodies as pydantic models: the OpenAPI document at /docs, and the contract the
tests hold every answer to (``extra="forbid"``: a field the builders add must be named here).

The bodies themselves come from ``streams.views.documents``, shared with the CLI's ``--json``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas.outputs import CoachingAlert
from schemas.scorecard_definition import ScorecardDefinition
from streams.views.rankings import LeaderboardRow


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Kpi(_Body):
    value: float | None
    target: float | None
    attainment: float | None
    """value/target (or target/value), clamped to [0, the KPI's cap]."""
    samples: int
    contribution: float
    """Points of the overall score this KPI brings."""


class Scorecard(_Body):
    rep_id: str | None = None
    """Absent on a team's card."""
    team_id: str | None
    window: str
    as_of: str
    overall: float | None
    overall_uncapped: float | None = None
    """The overall with no cap: what breaks ties at 100."""
    definition_version: int | None = None
    """The scorecard definition version that scored it (null: scored from a file)."""
    perspectives: dict[str, float | None]
    kpis: dict[str, Kpi]


class Leaderboard(_Body):
    window: str
    by: str
    team: str | None
    definition_version: int | None
    """The scorecard definition version in force (null before a worker put one in force)."""
    rows: list[LeaderboardRow]


class Rep(_Body):
    rep_id: str
    scorecards: list[Scorecard]


class Team(_Body):
    team_id: str
    scorecards: list[Scorecard]
    members: Leaderboard


class DefinitionChange(_Body):
    kind: str
    """weight, target, kpi_added, kpi_removed, window_added, window_removed or other."""
    path: str
    """Where in the YAML file: ``kpis.nps.weight``."""
    old: Any
    new: Any
    text: str


class VersionSummary(_Body):
    version: int
    status: str
    """``in force``, ``superseded`` or ``refused`` (the workers could not score it exactly)."""
    reason: str | None
    published_at: str
    published_by: str
    note: str
    digest: str
    previous: int | None
    """The version in force before it (null for the first)."""
    changes: list[DefinitionChange] | None
    """What it changed from ``previous`` (null for the first)."""


class DefinitionInForce(VersionSummary):
    definition: ScorecardDefinition
    versions: list[VersionSummary]
    """Every version the workers read, newest first."""


class Alerts(_Body):
    alerts: list[CoachingAlert]


class Message(_Body):
    detail: str


class Refusal(_Body):
    detail: str
    """What was refused, and what the caller's role allows."""
    role: str
    allowed: str


class Health(_Body):
    status: str
