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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.scorecard_definition import (
    AbsoluteTarget,
    Direction,
    KpiDef,
    PerDayTarget,
    ScorecardDefinition,
)
from scorers.calendar import Day, to_date
from scorers.kpis import FORMULAS, KpiFormula

DAYS_PER_MONTH = 365 / 12
"""Quota per day = monthly quota x 12 / 365, for any window length."""


@dataclass(frozen=True, slots=True)
class KpiScore:
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


def quota_over(monthly_quota: float, days: int) -> float:
    return monthly_quota * days / DAYS_PER_MONTH


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
class _Plan:
    """A definition's KPIs and perspectives laid out once for ``score``, which runs for
    every rep, window and batch: no lookups by name, no scans per KPI."""

    kpis: tuple[tuple[str, KpiFormula, KpiDef], ...]
    perspectives: tuple[tuple[str, float, tuple[int, ...]], ...]
    """(perspective, weight, indexes of its KPIs in ``kpis``) in definition order."""

    @classmethod
    def of(cls, definition: ScorecardDefinition) -> _Plan:
        names = list(definition.kpis)
        return cls(
            kpis=tuple((n.value, FORMULAS[n], definition.kpis[n]) for n in names),
            perspectives=tuple(
                (
                    str(p),
                    d.weight,
                    tuple(i for i, n in enumerate(names) if definition.kpis[n].perspective == p),
                )
                for p, d in definition.perspectives.items()
            ),
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
) -> Scorecard:
    plan = _plan(definition)
    values: list[tuple[float | None, float, float | None, int]] = []
    uncapped: list[float | None] = []
    for _, formula, kpi in plan.kpis:
        value = formula.value(inp.totals, inp.quota)
        samples = formula.samples(inp.totals)
        target = target_for(kpi, formula.additive, inp)
        raw_att = (
            uncapped_attainment(value, target, kpi.direction, kpi.cap)
            if value is not None and samples >= kpi.min_samples
            else None
        )
        uncapped.append(raw_att)
        values.append((value, target, None if raw_att is None else min(raw_att, kpi.cap), samples))

    # Raw weighted means first; then clamp to 1 and scale contributions to match.
    raws: list[float | None] = []
    clamped: list[float | None] = []
    k_weight_totals: list[float] = []  # per perspective: weight of its KPIs with an attainment
    for _, _, members in plan.perspectives:
        raw = _weighted_mean([(plan.kpis[i][2].weight, values[i][2]) for i in members])
        raws.append(raw)
        clamped.append(None if raw is None else min(raw, 1.0))
        k_weight_totals.append(
            sum(plan.kpis[i][2].weight for i in members if values[i][2] is not None)
        )
    p_weights = [weight for _, weight, _ in plan.perspectives]
    overall_raw = _weighted_mean(list(zip(p_weights, clamped, strict=True)))
    overall_uncapped = _weighted_mean(
        [
            (weight, _weighted_mean([(plan.kpis[i][2].weight, uncapped[i]) for i in members]))
            for _, weight, members in plan.perspectives
        ]
    )
    overall = None if overall_raw is None else min(overall_raw, 1.0)
    p_weight_total = sum(w for w, p in zip(p_weights, clamped, strict=True) if p is not None)

    contributions = [0.0] * len(plan.kpis)
    for j, (_, p_weight, members) in enumerate(plan.perspectives):
        p_raw, p_score = raws[j], clamped[j]
        if p_raw is None or p_score is None or overall is None:
            continue
        for i in members:
            att = values[i][2]
            if att is not None:
                share = p_weight / p_weight_total * plan.kpis[i][2].weight / k_weight_totals[j]
                contributions[i] = (
                    100 * share * att * _shrink(p_score, p_raw) * _shrink(overall, overall_raw)
                )

    return Scorecard(
        rep_id=rep_id,
        team_id=team_id,
        window=window,
        as_of=as_of,
        overall=None if overall is None else 100 * overall,
        overall_uncapped=None if overall_uncapped is None else 100 * overall_uncapped,
        perspectives={
            name: None if p is None else 100 * p
            for (name, _, _), p in zip(plan.perspectives, clamped, strict=True)
        },
        kpis={
            name: KpiScore(value, target, att, samples, contributions[i])
            for i, ((name, _, _), (value, target, att, samples)) in enumerate(
                zip(plan.kpis, values, strict=True)
            )
        },
    )


def _weighted_mean(pairs: list[tuple[float, float | None]]) -> float | None:
    present = [(w, v) for w, v in pairs if v is not None]
    total = sum(w for w, _ in present)
    return sum(w * v for w, v in present) / total if total else None


def _shrink(clamped: float, raw: float | None) -> float:
    return clamped / raw if raw else 1.0
