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

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from schemas.kpi_names import Direction
from schemas.scorecard_definition import (
    AbsoluteTarget,
    KpiDef,
    PerDayTarget,
    ScorecardDefinition,
)
from schemas.windows import is_calendar, most_days
from scorers.calendar import Day, to_date
from scorers.kpis import FORMULAS, NAMES

if TYPE_CHECKING:
    from scorers.card_json import Rendered

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

    def to_dict(self) -> dict[str, object]:
        """The published shape."""
        return {
            "value": self.value,
            "target": self.target,
            "attainment": self.attainment,
            "samples": self.samples,
            "contribution": self.contribution,
        }


@dataclass(slots=True)
class Scorecard:
    """One rep's (or, with ``rep_id`` None, one team's) scorecard for a window as of a day.

    A value: never assigned to once built. Not frozen all the same: five are built per rep
    on the worker's hot path, and a frozen dataclass's ``__init__`` (an
    ``object.__setattr__`` call per field) cost five times a plain one's."""

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
    rendered: Rendered | None = field(default=None, compare=False, repr=False)
    """Its KPIs' JSON once published (``scorers.card_json``), for the card that replaces it:
    the one field ever assigned to, a cache of what the others say."""

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

    def to_dict(self, kpis: Mapping[str, object] | None = None) -> dict[str, object]:
        """The published shape (replay JSON, Redis); a team's has no ``rep_id``. ``kpis``:
        the KPIs already in it (``scorers.card_json``'s fragments)."""
        out: dict[str, object] = {} if self.rep_id is None else {"rep_id": self.rep_id}
        out.update(
            team_id=self.team_id,
            window=self.window,
            as_of=to_date(self.as_of).isoformat(),
            overall=self.overall,
            overall_uncapped=self.overall_uncapped,
            definition_version=self.definition_version,
            perspectives=self.perspectives,
            kpis={name: k.to_dict() for name, k in self.kpis.items()} if kpis is None else kpis,
        )
        return out


@dataclass(slots=True, unsafe_hash=True)
class WindowInput:
    """What scoring needs about one subject (rep or team) in one window. A value, hashed as
    one, but not frozen, as ``Scorecard`` is not: never assign to it."""

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


Scorer = Callable[[WindowInput, str | None, str | None, str, Day, int | None], Scorecard]
"""``score`` for one definition: (input, rep_id, team_id, window, as_of, version) -> card."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """A definition's scoring function, generated once as Python source and compiled, as
    dataclasses write ``__init__``: ``score`` runs for every rep, window and batch, and a loop
    over the KPIs paid a call per formula, a lookup per field and a branch per target kind
    for every KPI of every card. The source (``source``, readable) is the loop unrolled: the
    same operations in the same order, so every float is the one the rules define."""

    source: str
    card: Scorer

    @classmethod
    def of(cls, definition: ScorecardDefinition) -> _Plan:
        source = _card_source(definition)
        namespace: dict[str, Any] = {
            **NAMES, "KpiScore": KpiScore, "Scorecard": Scorecard, "new": tuple.__new__
        }  # fmt: skip
        exec(compile(source, f"<scoring of {definition.name!r}>", "exec"), namespace)
        return cls(source, namespace["card"])


def _literal(number: float) -> str:
    """A definition's number as source: repr round-trips every float exactly."""
    assert type(number) in (int, float), number
    return repr(number) if math.isfinite(number) else f"float({str(number)!r})"


def _is_positive_literal(code: str) -> bool:
    try:
        return float(code) > 0
    except ValueError:  # an expression
        return False


def _target_code(kpi: KpiDef, additive: bool) -> str:
    """``target_for``'s arithmetic for one KPI (x * 1 is x, so a non-additive one's is)."""
    members = " * members" if additive else ""
    if isinstance(kpi.target, PerDayTarget):
        return f"{_literal(kpi.target.per_day)} * days{members}"
    if isinstance(kpi.target, AbsoluteTarget):
        return f"{_literal(kpi.target.absolute)}{members}"
    return f"{_literal(kpi.target.quota)} * q"


def _card_source(definition: ScorecardDefinition) -> str:
    """The source of ``card``, ``definition``'s ``Scorer``; see ``score``.
    Names: per KPI i its value vi, samples ni, target gi, attainment ai, contribution xi;
    per perspective j its weights wj, weighted attainments waj, uncapped ones unj, raw mean
    rj, clamped cj, shrink sj and share of the overall bj."""
    perspectives = list(definition.perspectives)
    pw = [_literal(d.weight) for d in definition.perspectives.values()]
    weights = [d.weight for d in definition.perspectives.values()]
    weights += [kpi.weight for kpi in definition.kpis.values()]
    if not all(w > 0 for w in weights):
        raise ValueError(f"a weight of {definition.name!r} is not positive: {weights}")
    lines = [
        "def card(inp, rep_id, team_id, window, as_of, version):",
        "    t, q, p = inp.totals, inp.quota, inp.period_quota",
        "    days, members = inp.days, inp.members",
    ]
    lines += [f"    w{j} = wa{j} = un{j} = 0.0" for j in range(len(perspectives))]
    kpis = list(definition.kpis.items())
    for i, (name, kpi) in enumerate(kpis):
        formula, j = FORMULAS[name], perspectives.index(kpi.perspective)
        weight, cap = _literal(kpi.weight), _literal(kpi.cap)
        target = _target_code(kpi, formula.additive)
        if kpi.direction is Direction.LOWER:
            raw = f"g{i} / v{i} if v{i} > 0 else {cap}"
        elif _is_positive_literal(target):  # the test ``g > 0`` is known to pass
            raw = f"v{i} / {target}"
        else:
            raw = f"v{i} / g{i} if g{i} > 0 else {cap}"
        lines += [
            f"    # {name.value}",
            f"    v{i} = {formula.value_code}",
            f"    n{i} = {formula.samples_code}",
            f"    g{i} = {target}",
            f"    a{i} = None",
            f"    if v{i} is not None and n{i} >= {_literal(kpi.min_samples)}:",
            f"        raw = {raw}",
            "        raw = 0.0 if 0.0 > raw else raw  # max(raw, 0.0)",
            f"        a{i} = {cap} if {cap} < raw else raw  # min(raw, cap)",
            f"        w{j} += {weight}",
            f"        wa{j} += {weight} * a{i}",
            f"        un{j} += {weight} * raw",
        ]
    lines += ["    p_total = p_weighted = 0.0", "    terms = []"]
    for j in range(len(perspectives)):
        lines += [
            f"    r{j} = wa{j} / w{j} if w{j} else None",
            f"    c{j} = None if r{j} is None else 1.0 if 1.0 < r{j} else r{j}",
            f"    if c{j} is not None:",
            f"        p_total += {pw[j]}",
            f"        p_weighted += {pw[j]} * c{j}",
            f"    if w{j}:",
            f"        terms.append({pw[j]} * un{j} / w{j})",
        ]
    lines += [
        "    overall_raw = p_weighted / p_total if p_total else None",
        "    overall = None if overall_raw is None else 1.0 if 1.0 < overall_raw else overall_raw",
        "    uncapped = sum(terms) / p_total if p_total else None",
        "    if overall is not None:",
        "        so = overall / overall_raw if overall_raw else 1.0",
    ]
    for j in range(len(perspectives)):
        lines += [
            f"        if r{j} is not None:",
            f"            s{j} = c{j} / r{j} if r{j} else 1.0",
            f"            b{j} = {pw[j]} / p_total",
        ]
    # A KPI with an attainment makes its perspective's weight and the overall's positive:
    # with one, its perspective's mean (and s, b) and the overall (and so) are there.
    for i, (_, kpi) in enumerate(kpis):
        j = perspectives.index(kpi.perspective)
        share = f"(b{j} * {_literal(kpi.weight)} / w{j})"
        lines.append(f"    x{i} = 0.0 if a{i} is None else 100 * {share} * a{i} * s{j} * so")
    scores = ", ".join(
        f"{name.value!r}: new(KpiScore, (v{i}, g{i}, a{i}, n{i}, x{i}))"
        for i, (name, _) in enumerate(kpis)
    )
    cards = ", ".join(
        f"{str(name)!r}: None if c{j} is None else 100 * c{j}"
        for j, name in enumerate(perspectives)
    )
    lines += [
        "    return Scorecard(",
        "        rep_id, team_id, window, as_of,",
        "        None if overall is None else 100 * overall,",
        f"        {{{cards}}},",
        f"        {{{scores}}},",
        "        None if uncapped is None else 100 * uncapped,",
        "        version,",
        "    )",
    ]
    return "\n".join(lines) + "\n"


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

    The hot path of the worker: the definition's generated function (``_Plan``), sums kept
    per perspective in KPI order (so every float is the same as a weighted mean computed
    KPI by KPI)."""
    return _plan(definition).card(inp, rep_id, team_id, window, as_of, version)


def scorer(definition: ScorecardDefinition) -> Scorer:
    """``score`` for ``definition``, looked up once for the many cards of a rep."""
    return _plan(definition).card
