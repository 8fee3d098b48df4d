"""From a window's counts to a balanced, self-explaining scorecard.

attainment = value/target (higher is better) or target/value (lower is better),
clamped to [0, cap]. A KPI below its ``min_samples`` (or with no value) is left out
and its weight spread over the others of its perspective; a perspective with no
data is null and its weight spread over the other perspectives. Perspective and
overall scores are weighted means reported 0..100, where 100 means every KPI at
target or better: above-target KPIs (up to their cap) make up for weaker ones, but
a score never passes 100. Each KPI's ``contribution`` is the points of the overall
score it brings; the contributions add up to the overall score.

``overall_uncapped`` is the same weighted mean with no clamp at all (neither the KPI
caps nor 100): it tells apart reps who all reached 100, so rankings break ties by it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from schemas.kpi_names import Direction
from schemas.scorecard_definition import (
    AbsoluteTarget,
    KpiDef,
    PerDayTarget,
    QuotaTarget,
    ScorecardDefinition,
)
from schemas.windows import is_calendar, most_days
from scorers.calendar import Day, to_date
from scorers.kpis import FORMULAS, Value

DAYS_PER_MONTH = 365 / 12
"""Quota per day = monthly quota x 12 / 365, for any window length."""


class KpiScore(NamedTuple):
    """One KPI of a card. A named tuple, not a frozen dataclass: sixteen are built per card on
    the worker's hot path, and a frozen dataclass's ``__init__`` cost three times as much."""

    value: float | None
    target: float | None
    attainment: float | None
    samples: int
    contribution: float


@dataclass(frozen=True, slots=True)
class Scorecard:
    """One rep's (or, with ``rep_id`` None, one team's) scorecard for a window as of a day."""

    rep_id: str | None
    team_id: str | None
    window: str
    as_of: Day
    overall: float | None
    perspectives: dict[str, float | None]
    kpis: dict[str, KpiScore]
    overall_uncapped: float | None = None
    """The overall score with no cap (KPI attainments as value/target): the tie-break of
    every ranking; null where ``overall`` is (and on cards written before it existed)."""
    definition_version: int | None = None
    """The published version of the definition that scored it; null for a definition read
    from a file (the replay) and on cards written before versions existed."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scorecard:
        """The inverse of ``to_dict`` (a card read back from Redis)."""
        return cls(
            rep_id=data.get("rep_id"),
            team_id=data["team_id"],
            window=data["window"],
            as_of=date.fromisoformat(data["as_of"]).toordinal(),
            overall=data["overall"],
            perspectives=dict(data["perspectives"]),
            kpis={
                name: KpiScore(
                    k["value"], k["target"], k["attainment"], k["samples"], k["contribution"]
                )
                for name, k in data["kpis"].items()
            },
            overall_uncapped=data.get("overall_uncapped"),
            definition_version=data.get("definition_version"),
        )

    def same_scores(self, other: Scorecard) -> bool:
        """Whether two cards say the same thing, whatever their as-of day."""
        return (
            self.overall == other.overall
            and self.perspectives == other.perspectives
            and self.kpis == other.kpis
            and self.team_id == other.team_id
        )

    def to_dict(self) -> dict[str, object]:
        """The published shape (replay JSON, Redis); a team's has no ``rep_id``."""
        out: dict[str, object] = {} if self.rep_id is None else {"rep_id": self.rep_id}
        out.update(
            team_id=self.team_id,
            window=self.window,
            as_of=to_date(self.as_of).isoformat(),
            overall=self.overall,
            overall_uncapped=self.overall_uncapped,
            definition_version=self.definition_version,
            perspectives=self.perspectives,
            kpis={
                name: {
                    "value": k.value,
                    "target": k.target,
                    "attainment": k.attainment,
                    "samples": k.samples,
                    "contribution": k.contribution,
                }
                for name, k in self.kpis.items()
            },
        )
        return out


@dataclass(frozen=True, slots=True)
class WindowInput:
    """What scoring needs about one subject (rep or team) in one window."""

    totals: Sequence[int]
    days: int
    quota: float
    """Quota over the window in reporting currency (summed over a team's members)."""
    members: int = 1
    period_quota: float | None = None
    """The quota of the window's whole calendar period (summed over a team's members);
    None for a rolling window."""


def quota_over(monthly_quota: float, days: int) -> float:
    return monthly_quota * days / DAYS_PER_MONTH


def period_quota(window: str, monthly_quota: float, period_days: int) -> float:
    """The quota of a whole period: exactly the monthly quota for a month, 3x for a quarter,
    else (a week, a rolling window) the quota over its days."""
    if window == "month":
        return monthly_quota
    if window == "quarter":
        return 3 * monthly_quota
    return quota_over(monthly_quota, period_days)


def calendar_quota(window: str, monthly_quota: float) -> float | None:
    """``WindowInput.period_quota`` of a rep: its calendar period's quota, None if rolling."""
    if not is_calendar(window):
        return None
    return period_quota(window, monthly_quota, most_days(window))


def target_for(kpi: KpiDef, additive: bool, inp: WindowInput) -> float:
    scale = inp.members if additive else 1
    if isinstance(kpi.target, PerDayTarget):
        return kpi.target.per_day * inp.days * scale
    if isinstance(kpi.target, AbsoluteTarget):
        return kpi.target.absolute * scale
    return kpi.target.quota * inp.quota


def attainment(value: float, target: float, direction: Direction, cap: float) -> float:
    return min(uncapped_attainment(value, target, direction, cap), cap)


def uncapped_attainment(value: float, target: float, direction: Direction, cap: float) -> float:
    """value/target (or target/value), at least 0; ``cap`` where the ratio has no meaning
    (a zero target, or a zero value of a lower-is-better KPI)."""
    if direction is Direction.HIGHER:
        raw = value / target if target > 0 else cap
    else:
        raw = target / value if value > 0 else cap
    return max(raw, 0.0)


@dataclass(frozen=True, slots=True)
class _Kpi:
    """One KPI of a definition, laid out for ``score``'s inner loop."""

    name: str
    value: Value
    samples: Callable[[Sequence[int]], int]
    per_day: float | None
    absolute: float | None
    quota_share: float | None
    additive: bool
    higher: bool
    cap: float
    min_samples: int
    weight: float
    perspective: int
    """Index of its perspective in ``_Plan.perspectives``."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """A definition's KPIs and perspectives laid out once for ``score``, which runs for
    every rep, window and batch: no lookups by name, no scans per KPI, no isinstance."""

    kpis: tuple[_Kpi, ...]
    perspectives: tuple[tuple[str, float], ...]
    """(perspective, weight) in definition order."""

    @classmethod
    def of(cls, definition: ScorecardDefinition) -> _Plan:
        perspectives = list(definition.perspectives)
        kpis = []
        for name, kpi in definition.kpis.items():
            target, formula = kpi.target, FORMULAS[name]
            kpis.append(
                _Kpi(
                    name=name.value,
                    value=formula.value,
                    samples=formula.samples,
                    per_day=target.per_day if isinstance(target, PerDayTarget) else None,
                    absolute=target.absolute if isinstance(target, AbsoluteTarget) else None,
                    quota_share=target.quota if isinstance(target, QuotaTarget) else None,
                    additive=formula.additive,
                    higher=kpi.direction is Direction.HIGHER,
                    cap=kpi.cap,
                    min_samples=kpi.min_samples,
                    weight=kpi.weight,
                    perspective=perspectives.index(kpi.perspective),
                )
            )
        return cls(
            tuple(kpis), tuple((str(p), d.weight) for p, d in definition.perspectives.items())
        )


_PLANS: dict[int, tuple[ScorecardDefinition, _Plan]] = {}


def _plan(definition: ScorecardDefinition) -> _Plan:
    # Keyed by identity (a definition holds dicts, so it does not hash); the entry keeps
    # its definition alive, so an id is never reused for another one while cached.
    entry = _PLANS.get(id(definition))
    if entry is None or entry[0] is not definition:
        entry = _PLANS[id(definition)] = (definition, _Plan.of(definition))
    return entry[1]


def score(
    definition: ScorecardDefinition,
    inp: WindowInput,
    *,
    rep_id: str | None,
    team_id: str | None,
    window: str,
    as_of: Day,
    version: int | None = None,
) -> Scorecard:
    """The scorecard of one subject and window (see the module's docstring for the rules);
    ``version`` is the definition's published version, stamped on the card.

    The hot path of the worker: one loop over the KPIs, sums kept per perspective in KPI
    order (so every float is the same as a weighted mean computed KPI by KPI)."""
    plan = _plan(definition)
    totals, quota, days, members = inp.totals, inp.quota, inp.days, inp.members
    period = inp.period_quota
    weights = [0.0] * len(plan.perspectives)
    weighted = [0.0] * len(plan.perspectives)
    uncapped = [0.0] * len(plan.perspectives)
    rows: list[tuple[float | None, float, float | None, int]] = []
    for k in plan.kpis:
        value = k.value(totals, quota, period)
        samples = k.samples(totals)
        scale = members if k.additive else 1
        if k.per_day is not None:
            target = k.per_day * days * scale
        elif k.absolute is not None:
            target = k.absolute * scale
        else:
            target = k.quota_share * quota  # type: ignore[operator]
        att: float | None = None
        if value is not None and samples >= k.min_samples:
            if k.higher:
                raw = value / target if target > 0 else k.cap
            else:
                raw = target / value if value > 0 else k.cap
            att = min(max(raw, 0.0), k.cap)
            weights[k.perspective] += k.weight
            weighted[k.perspective] += k.weight * att
            uncapped[k.perspective] += k.weight * max(raw, 0.0)
        rows.append((value, target, att, samples))

    # Raw weighted means first; then clamp to 1 and scale contributions to match.
    raws = [wa / w if w else None for w, wa in zip(weights, weighted, strict=True)]
    clamped = [None if r is None else min(r, 1.0) for r in raws]
    p_total = 0.0
    p_weighted = 0.0
    for (_, p_weight), p in zip(plan.perspectives, clamped, strict=True):
        if p is not None:
            p_total += p_weight
            p_weighted += p_weight * p
    overall_raw = p_weighted / p_total if p_total else None
    overall = None if overall_raw is None else min(overall_raw, 1.0)
    overall_uncapped = (
        sum(
            pw * un / w
            for (_, pw), un, w in zip(plan.perspectives, uncapped, weights, strict=True)
            if w
        )
        / p_total
        if p_total
        else None
    )

    kpis: dict[str, KpiScore] = {}
    for k, (value, target, att, samples) in zip(plan.kpis, rows, strict=True):
        contribution = 0.0
        j = k.perspective
        p_raw, p_score = raws[j], clamped[j]
        if att is not None and p_raw is not None and p_score is not None and overall is not None:
            share = plan.perspectives[j][1] / p_total * k.weight / weights[j]
            contribution = (
                100 * share * att * _shrink(p_score, p_raw) * _shrink(overall, overall_raw)
            )
        kpis[k.name] = KpiScore(value, target, att, samples, contribution)
    return Scorecard(
        rep_id=rep_id,
        team_id=team_id,
        window=window,
        as_of=as_of,
        overall=None if overall is None else 100 * overall,
        perspectives={
            name: None if p is None else 100 * p
            for (name, _), p in zip(plan.perspectives, clamped, strict=True)
        },
        kpis=kpis,
        overall_uncapped=None if overall_uncapped is None else 100 * overall_uncapped,
        definition_version=version,
    )


def _shrink(clamped: float, raw: float | None) -> float:
    return clamped / raw if raw else 1.0
