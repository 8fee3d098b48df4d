"""What the worker publishes for downstream services: score events and coaching alerts.

These models are the contract of ``scorecards.updates`` and ``scorecards.alerts``
(both keyed by rep_id); ``scorestream schemas export`` writes their JSON Schemas.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class KpiUpdate(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float | None
    target: float | None
    attainment: float | None
    samples: int
    contribution: float
    value_change: float | None
    """New value minus the previous scorecard's (null where either is null)."""
    contribution_change: float


class Cause(BaseModel):
    """Why the scorecard moved: events, the as-of day moving on, or a new definition version
    (``definition_version`` of the update names it)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["event", "day_rollover", "definition"]
    event_id: str | None = None
    """The last event that moved it."""
    event_ids: list[str] = []
    """Every event folded in since the previous scorecard, in the order handled (the worker
    scores a rep once per batch of messages, so one update can follow several events)."""


class ScorecardUpdated(BaseModel):
    """A rep's scorecard for one window changed; emitted only when something moved."""

    model_config = ConfigDict(frozen=True)

    rep_id: str
    team_id: str | None
    window: str
    as_of: date
    overall: float | None
    overall_uncapped: float | None = None
    """The overall with no cap (``Scorecard.overall_uncapped``): what breaks ties at 100."""
    definition_version: int | None
    """The version of the scorecard definition that scored it (``scorecards.definitions``)."""
    overall_change: float | None
    perspectives: dict[str, float | None]
    perspective_changes: dict[str, float | None]
    kpis: dict[str, KpiUpdate]
    cause: Cause
    emitted_at: datetime


class CoachingAlert(BaseModel):
    """A coaching rule fired for a rep. ``alert_id`` is deterministic: drop duplicates by it."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    rule: str
    kind: str
    severity: Literal["positive", "info", "warning"]
    rep_id: str
    team_id: str | None
    window: str | None
    period: str
    """The day the condition became true, or the calendar period's first day."""
    as_of: date
    evidence: dict[str, float | int | str | None]
    """The values that triggered the rule."""
    text: str
    raised_at: datetime
    definition_version: int | None = None
    """The version of the scorecard definition whose rule fired (null on alerts raised
    before versions existed)."""
