"""Scorecards of reps and teams as of a day, from their state.

A window's counts are the sum of the day buckets it holds, never a rescan of
events. A team's scorecard is computed over the sum of its members' counts (not an
average of their ratios), with additive targets and quotas summed over members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.scorecard_definition import ScorecardDefinition
from scorers import counters as c
from scorers.calendar import Day, WindowSpan, window_span
from scorers.counters import Counters
from scorers.scoring import Scorecard, WindowInput, quota_over, score
from scorers.state import RepStore


def window_totals(store: RepStore, span: WindowSpan) -> Counters:
    total = c.zero()
    for day in range(span.first, span.last + 1):
        bucket = store.bucket(day)
        if bucket is not None:
            c.add_into(total, bucket)
    return total


def has_activity(store: RepStore, up_to: Day) -> bool:
    """Whether the rep has at least one counted event on or before ``up_to``."""
    return any(
        day <= up_to and (b := store.bucket(day)) is not None and b[c.EVENTS] > 0
        for day in store.bucket_days()
    )


@dataclass(frozen=True, slots=True)
class Evaluation:
    reps: list[Scorecard]
    teams: list[Scorecard]


def evaluate(
    definition: ScorecardDefinition,
    stores: Iterable[RepStore],
    as_of: Day,
    windows: Sequence[str] | None = None,
) -> Evaluation:
    """Every rep's and team's scorecard for each window as of ``as_of``.

    Reps without a counted event up to ``as_of`` have no scorecard.
    """
    windows = list(windows or definition.windows)
    spans = {w: window_span(w, as_of) for w in windows}
    reps: list[Scorecard] = []
    team_inputs: dict[tuple[str, str], list[WindowInput]] = defaultdict(list)
    # Rep order fixes the order team quotas are summed in, so float sums never depend
    # on which rep's events arrived first.
    for store in sorted(stores, key=lambda s: s.rep_id):
        if not has_activity(store, as_of):
            continue
        profile = store.profile()
        monthly = profile.monthly_quota
        if monthly is None:
            monthly = definition.default_monthly_quota
        for window, span in spans.items():
            inp = WindowInput(window_totals(store, span), span.days, quota_over(monthly, span.days))
            reps.append(
                score(
                    definition,
                    inp,
                    rep_id=store.rep_id,
                    team_id=profile.team_id,
                    window=window,
                    as_of=as_of,
                )
            )
            if profile.team_id is not None:
                team_inputs[(profile.team_id, window)].append(inp)
    teams = [
        score(
            definition, _team_input(inputs), rep_id=None, team_id=team, window=window, as_of=as_of
        )
        for (team, window), inputs in sorted(team_inputs.items())
    ]
    return Evaluation(reps, teams)


def _team_input(members: list[WindowInput]) -> WindowInput:
    return WindowInput(
        totals=c.summed(m.totals for m in members),
        days=members[0].days,
        quota=sum(m.quota for m in members),
        members=len(members),
    )


def ranked(scorecards: Iterable[Scorecard], windows: Sequence[str]) -> list[Scorecard]:
    """Leaderboard order: by window as listed, then overall (no score last), then id."""
    order = {w: i for i, w in enumerate(windows)}
    return sorted(
        scorecards,
        key=lambda s: (
            order.get(s.window, len(order)),
            s.overall is None,
            -(s.overall or 0.0),
            s.rep_id or "",
            s.team_id or "",
        ),
    )
