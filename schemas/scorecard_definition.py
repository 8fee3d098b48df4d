"""The scorecard definition: an organisation's strategy written down as YAML (scorecard as code).

Weights, targets, windows and coaching rules are data reviewed like code. Loading a
file validates all of it; a wrong file fails with the path of the field, what is
wrong and what would be right, before any event is scored.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.alert_rules import AlertRule, ChangeRule, InactivityRule, PaceRule
from schemas.exceptions import SchemaError
from schemas.kpi_names import POINT_IN_TIME_KPIS, Direction, KpiName, Perspective
from schemas.windows import WindowName, is_calendar, most_days

DEFAULT_SCORECARD = "default_scorecard.yaml"
MAX_LATENESS_DAYS = 366
"""The most ``allowed_lateness_days`` may be: a year of late events kept in state."""
MAX_KEPT_DAYS = 2000
"""The most ``keep_history_days`` may be: the longest window (999d) with a change rule's
look-back (366) and a year of lateness (366), rounded up."""


class DefinitionError(SchemaError):
    """A scorecard definition that cannot be used; the text names the field and the fix."""


_Strict = ConfigDict(extra="forbid", frozen=True)
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class PerDayTarget(BaseModel):
    """A rate per day, scaled to the number of days the window holds."""

    model_config = _Strict
    per_day: PositiveFloat


class AbsoluteTarget(BaseModel):
    """The same target whatever the window (ratios, averages)."""

    model_config = _Strict
    absolute: PositiveFloat


class QuotaTarget(BaseModel):
    """A share of the rep's quota over the window (the default quota when the rep has none)."""

    model_config = _Strict
    quota: PositiveFloat = 1.0


_TARGET_KINDS = ("per_day", "absolute", "quota")


def _target_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in _TARGET_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return next((k for k in _TARGET_KINDS if hasattr(value, k)), None)


Target: TypeAlias = Annotated[
    Annotated[PerDayTarget, Tag("per_day")]
    | Annotated[AbsoluteTarget, Tag("absolute")]
    | Annotated[QuotaTarget, Tag("quota")],
    Discriminator(
        _target_kind,
        custom_error_type="target_kind",
        custom_error_message="give exactly one of per_day, absolute or quota",
    ),
]


class PerspectiveDef(BaseModel):
    model_config = _Strict
    weight: PositiveFloat


class KpiDef(BaseModel):
    model_config = _Strict
    perspective: Perspective
    weight: PositiveFloat
    direction: Direction = Direction.HIGHER
    target: Target
    cap: Annotated[float, Field(ge=1.0, le=10.0)] = 1.2
    min_samples: Annotated[int, Field(ge=0)] = 0


class ScorecardDefinition(BaseModel):
    """A whole balanced scorecard; see the shipped ``default_scorecard.yaml`` for each field."""

    model_config = _Strict

    name: Annotated[str, Field(min_length=1)]
    timezone: str = "UTC"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    fx_rates: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], PositiveFloat] = {}
    windows: Annotated[list[WindowName], Field(min_length=1)] = ["7d", "30d", "90d", "quarter"]
    allowed_lateness_days: Annotated[int, Field(ge=0, le=MAX_LATENESS_DAYS)] = 7
    max_future_days: Annotated[float, Field(ge=0, le=366)] = 1.0
    """An event dated more than this after the wall clock is a dead letter ("future")."""
    keep_history_days: Annotated[int, Field(ge=1, le=MAX_KEPT_DAYS)] | None = None
    """Days of history the workers keep; default: what this scorecard reaches back plus
    ``allowed_lateness_days``. A running worker cannot get back history it has evicted, so
    a later version may reach back no further than this: set it higher to leave room."""
    default_monthly_quota: PositiveFloat
    stage_probabilities: dict[Annotated[str, Field(min_length=1)], Probability] = {}
    """Deal stage -> the chance an open deal in it is won (forecast_attainment)."""
    default_stage_probability: Probability = 0.1
    """The chance for a stage not listed in ``stage_probabilities``."""
    perspectives: dict[Perspective, PerspectiveDef]
    kpis: dict[KpiName, KpiDef]
    alerts: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], AlertRule] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        return value

    @field_validator("windows")
    @classmethod
    def _distinct_windows(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"windows repeat a name: {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScorecardDefinition:
        used = {kpi.perspective for kpi in self.kpis.values()}
        for name in self.perspectives:
            if name not in used:
                raise ValueError(
                    f"perspectives.{name}: has a weight but no KPI; add a KPI with"
                    f" 'perspective: {name}' or remove the perspective"
                )
        for kpi_name, kpi in self.kpis.items():
            if kpi.perspective not in self.perspectives:
                raise ValueError(
                    f"kpis.{kpi_name}.perspective: {kpi.perspective.value!r} has no weight;"
                    f" add it under 'perspectives' or move the KPI"
                )
        for fx in self.fx_rates:
            if fx == self.currency:
                raise ValueError(f"fx_rates.{fx}: is the reporting currency; remove it")
        for rule_id, rule in self.alerts.items():
            if isinstance(rule, InactivityRule | PaceRule) and rule.kpi in POINT_IN_TIME_KPIS:
                raise ValueError(
                    f"alerts.{rule_id}.kpi: {rule.kpi.value} is a point-in-time KPI (the deals"
                    f" open on the window's last day); a {rule.kind} rule needs an activity"
                    " KPI. Use a threshold rule for it"
                )
            if isinstance(rule, InactivityRule):
                continue
            if rule.window not in self.windows and not is_calendar(rule.window):
                raise ValueError(
                    f"alerts.{rule_id}.window: {rule.window!r} is not one of windows"
                    f" {self.windows}; add it there or use week/month/quarter"
                )
        needed = self.history_days() + self.allowed_lateness_days
        if self.keep_history_days is not None and self.keep_history_days < needed:
            raise ValueError(
                f"keep_history_days: {self.keep_history_days} is less than this scorecard"
                f" needs ({self.history_days()} days reached back + allowed_lateness_days"
                f" {self.allowed_lateness_days} = {needed}); raise it or leave it out"
            )
        return self

    def reaches(self) -> dict[str, int]:
        """How many days back each thing this definition scores reaches, by its path in the
        file: the windows, the rules' windows, the earlier windows change rules compare
        with, and inactivity look-backs."""
        reach = {f"windows.{w}": most_days(w) for w in self.windows}
        for rule_id, rule in self.alerts.items():
            if isinstance(rule, InactivityRule):
                reach[f"alerts.{rule_id}"] = rule.lookback_days
            elif isinstance(rule, ChangeRule):
                reach[f"alerts.{rule_id}"] = most_days(rule.window) + rule.days
            else:
                reach[f"alerts.{rule_id}"] = most_days(rule.window)
        return reach

    def history_days(self) -> int:
        """The most days back anything this definition scores can reach (``reaches``)."""
        return max(self.reaches().values())

    def kept_days(self) -> int:
        """The days of history the stream keeps for this definition: ``keep_history_days``,
        else its reach plus ``allowed_lateness_days``. Older events are "too late"."""
        if self.keep_history_days is not None:
            return self.keep_history_days
        return self.history_days() + self.allowed_lateness_days

    def rate_to_reporting(self, currency: str | None) -> float | None:
        """Units of the reporting currency per unit of ``currency`` (None: the reporting
        currency itself); None when unknown."""
        if currency is None or currency == self.currency:
            return 1.0
        return self.fx_rates.get(currency)


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in _field_path(err["loc"])) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field; check its spelling against default_scorecard.yaml"
        elif err["type"] == "enum":
            msg = f"{err['input']!r} is not allowed; expected {err['ctx']['expected']}"
        elif err["type"] == "string_pattern_mismatch" and "window" in path:
            msg = f"{err['input']!r} is not a window; use Nd (e.g. 30d), week, month or quarter"
        elif err["type"] == "string_pattern_mismatch" and "currency" in path + str(err["loc"]):
            msg = f"{err['input']!r} is not a currency code; use ISO 4217, e.g. USD or EUR"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def _field_path(loc: tuple[int | str, ...]) -> list[int | str]:
    """The YAML path of an error, without the union tags pydantic inserts.

    pydantic puts the chosen member after a discriminated field
    (``alerts.no_calls.inactivity.days``, ``kpis.nps.target.per_day.per_day``);
    a person wants the path as written in the file.
    """
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "alerts" and parts[2] in _RULE_KINDS:
        del parts[2]
    if "target" in parts:
        i = parts.index("target")
        if i + 1 < len(parts) and parts[i + 1] in _TARGET_KINDS:
            del parts[i + 1]
    return parts


_RULE_KINDS = {"threshold", "change", "inactivity", "target", "pace"}


def parse_definition(data: Any, source: str = "<scorecard>") -> ScorecardDefinition:
    try:
        return ScorecardDefinition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(f"{source} is not a valid scorecard:\n{_describe(exc)}") from None


def load_definition(path: Path | None = None) -> ScorecardDefinition:
    """Read and validate a YAML definition; the shipped default when ``path`` is None."""
    if path is None:
        text = resources.files("schemas").joinpath(DEFAULT_SCORECARD).read_text("utf-8")
        source = DEFAULT_SCORECARD
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise DefinitionError(f"cannot read scorecard {path}: {exc.strerror}") from None
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source} is not valid YAML: {exc}") from None
    return parse_definition(data, source)
