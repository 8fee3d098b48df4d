"""The generated scoring function of a definition (``scorers.scoring._Plan``) gives, bit for
bit, the card of a plain KPI-by-KPI computation of the rules, on random definitions and
random window inputs (reps' and teams')."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.kpi_names import Direction, KpiName, Perspective
from schemas.scorecard_definition import (
    PerspectiveDef,
    ScorecardDefinition,
    load_definition,
    parse_definition,
)
from scorers import counters as c
from scorers.kpis import FORMULAS, NAMES
from scorers.scoring import (
    KpiScore,
    Scorecard,
    WindowInput,
    attainment,
    score,
    target_for,
    uncapped_attainment,
)


def plain_score(definition: ScorecardDefinition, inp: WindowInput) -> Scorecard:
    """The module docstring of ``scorers.scoring``, one KPI and one perspective at a time,
    with the catalogue's formulas called as functions."""
    rows: dict[str, tuple[float | None, float, float | None, int]] = {}
    sums = {str(p): [0.0, 0.0, 0.0] for p in definition.perspectives}  # weight, att, uncapped
    for name, kpi in definition.kpis.items():
        formula = FORMULAS[name]
        value = formula.value(inp.totals, inp.quota, inp.period_quota)
        samples = formula.samples(inp.totals)
        target = target_for(kpi, formula.additive, inp)
        att = None
        if value is not None and samples >= kpi.min_samples:
            att = attainment(value, target, kpi.direction, kpi.cap)
            weight, weighted, uncapped = sums[str(kpi.perspective)]
            sums[str(kpi.perspective)] = [
                weight + kpi.weight,
                weighted + kpi.weight * att,
                uncapped + kpi.weight * uncapped_attainment(value, target, kpi.direction, kpi.cap),
            ]
        rows[name.value] = (value, target, att, samples)
    raws = {p: s[1] / s[0] if s[0] else None for p, s in sums.items()}
    clamped = {p: None if r is None else min(r, 1.0) for p, r in raws.items()}
    weights = {str(p): d.weight for p, d in definition.perspectives.items()}
    p_total = p_weighted = 0.0
    for p, value in clamped.items():
        if value is not None:
            p_total += weights[p]
            p_weighted += weights[p] * value
    overall_raw = p_weighted / p_total if p_total else None
    overall = None if overall_raw is None else min(overall_raw, 1.0)
    terms = [weights[p] * s[2] / s[0] for p, s in sums.items() if s[0]]
    overall_uncapped = sum(terms) / p_total if p_total else None
    kpis = {}
    for name, kpi in definition.kpis.items():
        value, target, att, samples = rows[name.value]
        p = str(kpi.perspective)
        p_raw, p_score = raws[p], clamped[p]
        contribution = 0.0
        if att is not None and p_raw is not None and p_score is not None and overall is not None:
            share = weights[p] / p_total * kpi.weight / sums[p][0]
            shrink_p = p_score / p_raw if p_raw else 1.0
            shrink_o = overall / overall_raw if overall_raw else 1.0
            contribution = 100 * share * att * shrink_p * shrink_o
        kpis[name.value] = KpiScore(value, target, att, samples, contribution)
    return Scorecard(
        rep_id="r",
        team_id="t",
        window="w",
        as_of=1,
        overall=None if overall is None else 100 * overall,
        perspectives={p: None if v is None else 100 * v for p, v in clamped.items()},
        kpis=kpis,
        overall_uncapped=None if overall_uncapped is None else 100 * overall_uncapped,
        definition_version=3,
    )


_weights = st.floats(0.01, 10, allow_nan=False)
_targets = st.one_of(
    st.builds(lambda x: {"per_day": x}, st.floats(0.001, 1e5)),
    st.builds(lambda x: {"absolute": x}, st.floats(0.001, 1e6)),
    st.builds(lambda x: {"quota": x}, st.floats(0.01, 5)),
)


@st.composite
def definitions(draw: st.DrawFn) -> ScorecardDefinition:
    perspectives = draw(st.lists(st.sampled_from(list(Perspective)), min_size=1, unique=True))
    names = draw(st.lists(st.sampled_from(list(KpiName)), min_size=len(perspectives), unique=True))
    kpis: dict[str, Any] = {}
    for i, name in enumerate(names):
        # Every perspective gets a KPI (the definition's own rule), then any.
        perspective = (
            perspectives[i] if i < len(perspectives) else draw(st.sampled_from(perspectives))
        )
        kpis[name.value] = {
            "perspective": perspective.value,
            "weight": draw(_weights),
            "direction": draw(st.sampled_from(list(Direction))).value,
            "target": draw(_targets),
            "cap": draw(st.floats(1.0, 10.0)),
            "min_samples": draw(st.integers(0, 4)),
        }
    return parse_definition(
        {
            "name": "random",
            "default_monthly_quota": 1000,
            "perspectives": {p.value: {"weight": draw(_weights)} for p in perspectives},
            "kpis": kpis,
        }
    )


_counts = st.one_of(st.just(0), st.integers(0, 5), st.integers(-(10**6), 10**13))
inputs = st.builds(
    WindowInput,
    totals=st.lists(_counts, min_size=c.INPUT_WIDTH, max_size=c.INPUT_WIDTH).map(tuple),
    days=st.integers(1, 366),
    quota=st.one_of(st.just(0.0), st.floats(0.01, 1e7)),
    members=st.integers(1, 40),
    period_quota=st.one_of(st.none(), st.just(0.0), st.floats(0.01, 1e7)),
)


@settings(max_examples=400, deadline=None)
@given(definitions(), inputs)
def test_the_generated_function_scores_as_the_plain_computation(
    definition: ScorecardDefinition, inp: WindowInput
) -> None:
    """repr tells every float apart (and -0.0 from 0.0, 1 from 1.0): equal reprs, equal bits."""
    card = score(definition, inp, rep_id="r", team_id="t", window="w", as_of=1, version=3)
    assert repr(card) == repr(plain_score(definition, inp))


def test_a_formula_names_the_counters_at_their_indexes() -> None:
    """The formulas' names for counts are the counters' own constants."""
    assert (NAMES["WON"], NAMES["REVENUE"], NAMES["EVENTS"]) == (c.WON, c.REVENUE, c.EVENTS)
    assert (NAMES["OPEN_DEALS"], NAMES["FORECAST"]) == (c.OPEN_DEALS, c.FORECAST)


INPUT = WindowInput(tuple(range(c.INPUT_WIDTH)), 30, 1000.0)


def test_a_definition_with_a_weight_not_positive_is_refused_by_name() -> None:
    """The generated function counts on positive weights (the schema's rule); a definition
    built around the schema with a zero one fails loudly, never scores wrongly."""
    definition = load_definition()
    zero = PerspectiveDef.model_construct(weight=0.0)
    broken = definition.model_copy(
        update={"name": "broken", "perspectives": {**definition.perspectives, "financial": zero}}
    )
    with pytest.raises(ValueError, match="a weight of 'broken' is not positive"):
        score(broken, INPUT, rep_id="r", team_id="t", window="w", as_of=1)
