"""Coaching rules as a scorecard definition writes them: one model per kind, told apart by
``kind``. ``scorers.alerts`` judges them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

from schemas.kpi_names import KpiName
from schemas.windows import WindowName, is_calendar


class Severity(StrEnum):
    POSITIVE = "positive"
    INFO = "info"
    WARNING = "warning"


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    severity: Severity
    text: Annotated[str, Field(min_length=1)]
    cooldown_days: Annotated[int, Field(ge=0)] = 7


class ThresholdRule(_RuleBase):
    """A KPI value in a window crosses a bound, once enough samples back it."""

    kind: Literal["threshold"]
    kpi: KpiName
    window: WindowName
    below: float | None = None
    above: float | None = None
    min_samples: Annotated[int, Field(ge=0)] = 0
    from_day: Annotated[int, Field(ge=1, le=92)] | None = None
    """In a calendar window, judge from this day of the period on (none: every day)."""

    @model_validator(mode="after")
    def _one_bound(self) -> ThresholdRule:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of 'below' or 'above'")
        if self.from_day is not None and not is_calendar(self.window):
            raise ValueError(
                f"from_day: a rolling window {self.window!r} has no day of the period;"
                " use week, month or quarter, or remove from_day"
            )
        return self


class ChangeRule(_RuleBase):
    """A score falls by at least ``drop`` points against the same rep ``days`` earlier."""

    kind: Literal["change"]
    score: Annotated[
        str, Field(pattern=r"^(overall|financial|customer|internal_process|learning_growth)$")
    ]
    window: WindowName
    days: Annotated[int, Field(ge=1, le=366)]
    drop: PositiveFloat


class InactivityRule(_RuleBase):
    """No events of a kind for ``days`` days in a row on the worker's clock."""

    kind: Literal["inactivity"]
    kpi: KpiName
    days: Annotated[int, Field(ge=1, le=366)]
    skip_weekends: bool = True

    @property
    def lookback_days(self) -> int:
        """Far enough back to count ``days`` working days with weekends in between."""
        return self.days * 2 + 7


class TargetRule(_RuleBase):
    """A KPI in a calendar window reaches its target (recognition)."""

    kind: Literal["target"]
    kpi: KpiName
    window: WindowName


class PaceRule(_RuleBase):
    """A KPI in a calendar window is below ``share`` of its target prorated to the day."""

    kind: Literal["pace"]
    kpi: KpiName
    window: WindowName
    share: Annotated[float, Field(gt=0, le=1)]
    from_day: Annotated[int, Field(ge=1, le=92)] = 8
    """Judge the pace from this day of the period on: on the 1st everyone is "behind"."""


AlertRule: TypeAlias = Annotated[
    ThresholdRule | ChangeRule | InactivityRule | TargetRule | PaceRule,
    Field(discriminator="kind"),
]
