"""Coaching rules: when a rep's numbers call for a manager's attention.

Each rule kind turns facts about a rep into a condition with its evidence; a rule
fires when its condition *becomes* true (not on every event while it stays true),
and not again within its cooldown. The alert id is a hash of (rep, rule, window,
period), so whoever evaluates the same facts names the alert the same way and
consumers can drop duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from schemas.alert_rules import (
    AlertRule,
    ChangeRule,
    InactivityRule,
    PaceRule,
    TargetRule,
    ThresholdRule,
)
from schemas.kpi_names import KpiName
from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day, period_span, to_date, window_span
from scorers.kpis import FORMULAS
from scorers.scoring import Scorecard, WindowInput, period_quota, target_for
from scorers.state import RepState, RuleState
from scorers.window_totals import day_counts


@dataclass(frozen=True, slots=True)
class RepFacts:
    """What the rules look at, as of one day, for one rep."""

    rep_id: str
    team_id: str | None
    as_of: Day
    cards: Mapping[str, Scorecard]
    """Scorecards as of ``as_of`` for every window a rule names."""
    monthly_quota: float
    earlier: Mapping[tuple[str, int], Scorecard] = field(default_factory=dict)
    """(window, days back) -> the scorecard that many days before ``as_of``."""
    last_active: Mapping[str, Day | None] = field(default_factory=dict)
    """KPI name -> the last day with a sample of it (None: none in the kept state)."""
    active_since: Day | None = None
    """The rep's first day with any event: a new rep is not idle before it started."""


@dataclass(frozen=True, slots=True)
class Observation:
    condition: bool
    window: str | None
    period: str
    evidence: dict[str, float | int | str | None]


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    rule: str
    kind: str
    severity: str
    rep_id: str
    team_id: str | None
    window: str | None
    period: str
    as_of: Day
    evidence: dict[str, float | int | str | None]
    text: str


def rule_windows(definition: ScorecardDefinition) -> list[str]:
    """Windows the rules need scored, besides the scorecard's own."""
    needed = {r.window for r in definition.alerts.values() if not isinstance(r, InactivityRule)}
    return sorted(needed - set(definition.windows))


def lookbacks(definition: ScorecardDefinition) -> list[tuple[str, int]]:
    """(window, days) pairs of change rules: the earlier scorecards they compare with."""
    return sorted(
        {(r.window, r.days) for r in definition.alerts.values() if isinstance(r, ChangeRule)}
    )


def inactivity_kpis(definition: ScorecardDefinition) -> list[str]:
    return sorted(
        {r.kpi.value for r in definition.alerts.values() if isinstance(r, InactivityRule)}
    )


def observe(
    definition: ScorecardDefinition, rule: AlertRule, facts: RepFacts
) -> Observation | None:
    """The rule's condition on ``facts``; None when the facts can't decide it (no data)."""
    if isinstance(rule, ThresholdRule):
        return _threshold(rule, facts)
    if isinstance(rule, ChangeRule):
        return _change(rule, facts)
    if isinstance(rule, InactivityRule):
        return _inactivity(rule, facts)
    return _against_period_target(definition, rule, facts)


def _threshold(rule: ThresholdRule, facts: RepFacts) -> Observation | None:
    card = facts.cards.get(rule.window)
    if card is None:
        return None
    kpi = card.kpis[rule.kpi.value]
    too_early = rule.from_day is not None and window_span(rule.window, facts.as_of).days < (
        rule.from_day
    )
    if kpi.value is None or kpi.samples < rule.min_samples or too_early:
        return Observation(False, rule.window, _day_period(facts.as_of), {})
    below = rule.below is not None and kpi.value < rule.below
    above = rule.above is not None and kpi.value > rule.above
    bound = "below" if rule.below is not None else "above"
    evidence: dict[str, float | int | str | None] = {
        rule.kpi.value: kpi.value,
        "samples": kpi.samples,
        bound: rule.below if rule.below is not None else rule.above,
    }
    return Observation(below or above, rule.window, _day_period(facts.as_of), evidence)


def _change(rule: ChangeRule, facts: RepFacts) -> Observation | None:
    now, then = facts.cards.get(rule.window), facts.earlier.get((rule.window, rule.days))
    if now is None or then is None:
        return None
    score_now = now.overall if rule.score == "overall" else now.perspectives.get(rule.score)
    score_then = then.overall if rule.score == "overall" else then.perspectives.get(rule.score)
    if score_now is None or score_then is None:
        return Observation(False, rule.window, _day_period(facts.as_of), {})
    evidence: dict[str, float | int | str | None] = {
        f"{rule.score}_now": score_now,
        f"{rule.score}_{rule.days}d_earlier": score_then,
        "drop": score_then - score_now,
    }
    return Observation(
        score_then - score_now >= rule.drop, rule.window, _day_period(facts.as_of), evidence
    )


def _inactivity(rule: InactivityRule, facts: RepFacts) -> Observation:
    last = facts.last_active.get(rule.kpi.value)
    idle = idle_days(last, facts.as_of, rule.skip_weekends, facts.active_since)
    evidence: dict[str, float | int | str | None] = {
        "idle_days": idle,
        "last_active": None if last is None else to_date(last).isoformat(),
    }
    return Observation(idle >= rule.days, None, _day_period(facts.as_of), evidence)


def idle_days(
    last_active: Day | None, as_of: Day, skip_weekends: bool, since: Day | None = None
) -> int:
    """Days after ``last_active`` up to ``as_of`` with no activity (weekends skipped if asked).

    With no activity at all the rep counts as idle from ``since`` (its first day).
    """
    if last_active is not None:
        start = last_active + 1
    else:
        start = as_of - 365 if since is None else max(since, as_of - 365)
    days = range(start, as_of + 1)
    if not skip_weekends:
        return len(days)
    return sum(1 for d in days if date.fromordinal(d).weekday() < 5)


def _against_period_target(
    definition: ScorecardDefinition, rule: TargetRule | PaceRule, facts: RepFacts
) -> Observation | None:
    card = facts.cards.get(rule.window)
    kpi_def = definition.kpis.get(rule.kpi)
    if card is None or kpi_def is None:
        return None
    value = card.kpis[rule.kpi.value].value
    span = window_span(rule.window, facts.as_of)
    period_days = period_span(rule.window, facts.as_of).days
    full = target_for(
        kpi_def,
        FORMULAS[rule.kpi].additive,
        WindowInput((), period_days, period_quota(rule.window, facts.monthly_quota, period_days)),
    )
    period = to_date(span.first).isoformat()
    if value is None:
        return Observation(False, rule.window, period, {})
    if isinstance(rule, TargetRule):
        evidence: dict[str, float | int | str | None] = {rule.kpi.value: value, "target": full}
        return Observation(value >= full, rule.window, period, evidence)
    if span.days < rule.from_day:
        return Observation(False, rule.window, period, {})
    pace = full * span.days / period_days
    evidence = {rule.kpi.value: value, "pace_target": pace, "share": rule.share, "target": full}
    return Observation(value < rule.share * pace, rule.window, period, evidence)


def _day_period(as_of: Day) -> str:
    return to_date(as_of).isoformat()


def step(
    rule_id: str, rule: AlertRule, state: RuleState, seen: Observation | None, facts: RepFacts
) -> tuple[Alert | None, RuleState]:
    """Fire on a false -> true edge outside the cooldown; return the rule's new state."""
    if seen is None:
        return None, state
    if not seen.condition:
        return None, RuleState(False, state.last_fired)
    cooling = state.last_fired is not None and facts.as_of - state.last_fired < rule.cooldown_days
    if state.active or cooling:
        return None, RuleState(True, state.last_fired)
    alert = Alert(
        alert_id=alert_id(facts.rep_id, rule_id, seen.window, seen.period),
        rule=rule_id,
        kind=rule.kind,
        severity=rule.severity.value,
        rep_id=facts.rep_id,
        team_id=facts.team_id,
        window=seen.window,
        period=seen.period,
        as_of=facts.as_of,
        evidence=seen.evidence,
        text=rule.text,
    )
    return alert, RuleState(True, facts.as_of)


def alert_id(rep_id: str, rule_id: str, window: str | None, period: str) -> str:
    raw = f"{rep_id}|{rule_id}|{window or '-'}|{period}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def run_rules(
    definition: ScorecardDefinition, facts: RepFacts, states: Mapping[str, RuleState]
) -> tuple[list[Alert], dict[str, RuleState]]:
    """Every rule of the scorecard on one rep's facts: the alerts, and the states that changed."""
    fired: list[Alert] = []
    changed: dict[str, RuleState] = {}
    for rule_id, rule in definition.alerts.items():
        state = states.get(rule_id, RuleState())
        alert, new_state = step(rule_id, rule, state, observe(definition, rule, facts), facts)
        if new_state != state:
            changed[rule_id] = new_state
        if alert is not None:
            fired.append(alert)
    return fired, changed


def inactivity_lookback_days(definition: ScorecardDefinition) -> int:
    """Far enough back to count any inactivity rule's days with weekends in between."""
    return max(
        (r.lookback_days for r in definition.alerts.values() if isinstance(r, InactivityRule)),
        default=0,
    )


def last_active(state: RepState, kpi: str, as_of: Day, lookback_days: int) -> Day | None:
    """The last day up to ``as_of`` with a sample of ``kpi``, within ``lookback_days``."""
    formula = FORMULAS[KpiName(kpi)]
    first = as_of - lookback_days + 1
    if formula.deals:
        days = day_counts(state, first, as_of)
        return max((d for d, counts in days.items() if formula.samples(counts) > 0), default=None)
    for day in range(as_of, first - 1, -1):  # a few days, read from the buckets alone
        bucket = state.buckets.get(day)
        if bucket is not None and formula.samples(bucket.counters) > 0:
            return day
    return None
