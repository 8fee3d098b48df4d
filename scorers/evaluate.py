"""Scorecards of reps and teams as of a day, from their state.

A window's counts are the sum of the day buckets it holds, never a rescan of
events, and its pipeline counts (the deals open on its last day). A team's scorecard
is computed over the sum of its members' counts (not an average of their ratios),
with additive targets and quotas summed over members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.scorecard_definition import ScorecardDefinition
from scorers import counters as c
from scorers.calendar import Day
from scorers.pipeline import PipelineCounts, in_pipeline, pipeline_counts
from scorers.scoring import (
    Scorecard,
    WindowInput,
    calendar_quota,
    quota_over,
    score,
    scorer,
)
from scorers.state import RepState
from scorers.window_totals import WindowTotals, build


@dataclass(frozen=True, slots=True)
class Evaluation:
    reps: list[Scorecard]
    teams: list[Scorecard]


def evaluate(
    definition: ScorecardDefinition,
    states: Iterable[RepState],
    as_of: Day,
    windows: Sequence[str] | None = None,
) -> Evaluation:
    """Every rep's and team's scorecard for each window as of ``as_of``.

    Reps without a counted event up to ``as_of`` have no scorecard.
    """
    windows = list(windows or definition.windows)
    reps: list[Scorecard] = []
    members: dict[str, list[dict[str, WindowInput]]] = defaultdict(list)
    # Rep order fixes the order team quotas are summed in, so float sums never depend
    # on which rep's events arrived first.
    for state in sorted(states, key=lambda s: s.rep_id):
        profile = state.rep_profile
        if not profile.has_activity(as_of):
            continue
        scored = rep_scorecards(definition, state, build(state, windows, as_of))
        reps.extend(card for _, card in scored)
        if profile.team_id is not None:
            members[profile.team_id].append({card.window: inp for inp, card in scored})
    teams = [
        card
        for team in sorted(members)
        for card in team_scorecards(definition, team, as_of, members[team])
    ]
    return Evaluation(reps, teams)


def rep_scorecards(
    definition: ScorecardDefinition,
    state: RepState,
    totals: WindowTotals,
    version: int | None = None,
    pipeline: Mapping[str, PipelineCounts] | None = None,
) -> list[tuple[WindowInput, Scorecard]]:
    """A rep's scorecard per window from its current window totals and its deals open on
    their last day, with the inputs used; ``version``: the definition's published version,
    stamped on the cards; ``pipeline``: as ``rep_inputs``."""
    card, rep_id, team_id = scorer(definition), state.rep_id, state.rep_profile.team_id
    return [
        (inp, card(inp, rep_id, team_id, window, totals.as_of, version))
        for window, inp in rep_inputs(definition, state, totals, pipeline)
    ]


def rep_inputs(
    definition: ScorecardDefinition,
    state: RepState,
    totals: WindowTotals,
    pipeline: Mapping[str, PipelineCounts] | None = None,
) -> list[tuple[str, WindowInput]]:
    """A rep's input per window: its window totals and its deals open on their last day
    (``pipeline``: their counts per window when the caller has them, else counted here)."""
    monthly = state.rep_profile.monthly_quota
    if monthly is None:
        monthly = definition.default_monthly_quota
    if pipeline is None:
        deals = in_pipeline(state.deals.values())
        pipeline = pipeline_counts(definition, deals, totals.spans, totals.as_of)
    out = []
    for window, span in totals.spans.items():
        days = span.days
        inp = WindowInput(
            totals.totals[window] + pipeline[window],
            days,
            quota_over(monthly, days),
            1,
            calendar_quota(window, monthly),
        )
        out.append((window, inp))
    return out


def team_scorecards(
    definition: ScorecardDefinition,
    team_id: str,
    as_of: Day,
    members: Sequence[Mapping[str, WindowInput]],
    version: int | None = None,
) -> list[Scorecard]:
    """A team's scorecard per window from its members' inputs (in a fixed member order)."""
    present = {w for m in members for w in m}
    ordered = [w for w in definition.windows if w in present]
    ordered += sorted(present - set(ordered))
    return [
        score(
            definition,
            team_input([m[window] for m in members if window in m]),
            rep_id=None,
            team_id=team_id,
            window=window,
            as_of=as_of,
            version=version,
        )
        for window in ordered
    ]


def team_input(members: Sequence[WindowInput]) -> WindowInput:
    """A team's input: the sum of its members' counts and quotas."""
    periods = [m.period_quota for m in members]
    return WindowInput(
        totals=c.summed((m.totals for m in members), c.INPUT_WIDTH),
        days=members[0].days,
        quota=sum(m.quota for m in members),
        members=len(members),
        period_quota=None if None in periods else sum(p for p in periods if p is not None),
    )


def input_to_wire(inp: WindowInput) -> list[Any]:
    """A rep's window input as JSON for its team's worker (``input_from_wire`` reads it)."""
    return [list(inp.totals), inp.days, inp.quota, inp.period_quota]


def input_from_wire(data: Sequence[Any]) -> WindowInput:
    """The inverse of ``input_to_wire``; an input sent before the pipeline counts and the
    period quota existed reads as an empty pipeline and a rolling window's."""
    totals, days, quota, *rest = data
    padded = [*totals, *[0] * (c.INPUT_WIDTH - len(totals))]
    return WindowInput(padded, days, quota, period_quota=rest[0] if rest else None)


def ranked(scorecards: Iterable[Scorecard], windows: Sequence[str]) -> list[Scorecard]:
    """Leaderboard order: by window as listed, then by ``rank_key`` of the overall."""
    order = {w: i for i, w in enumerate(windows)}
    return sorted(
        scorecards,
        key=lambda s: (
            order.get(s.window, len(order)),
            *rank_key(s.overall, s.overall_uncapped, s.rep_id or ""),
            s.team_id or "",
        ),
    )


def rank_key(score: float | None, uncapped: float | None, subject: str) -> tuple[object, ...]:
    """Where a subject goes in a ranking, best first: by score (none last), ties to the
    higher uncapped overall (none after), then to the lower id. The one rule of every
    ranking: the replay's, the CLI's, the API's and the page's."""
    return (
        score is None,
        -(score or 0.0),
        -(float("-inf") if uncapped is None else uncapped),
        subject,
    )
