"""One rep's scorecards as of a day, from window totals kept current between batches.

The totals (for the scorecard's windows, the windows alert rules look at, and the
earlier days change rules compare with) are derived from the rep's state; the worker
keeps them between batches, so scoring a rep costs its changes, not its history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.scorecard_definition import ScorecardDefinition
from scorers.alerts import (
    RepFacts,
    inactivity_kpis,
    inactivity_lookback_days,
    last_active,
    lookbacks,
    rule_windows,
)
from scorers.calendar import Day
from scorers.evaluate import rep_inputs, rep_scorecards
from scorers.fold import Change, Folder
from scorers.pipeline import PipelineCounts, in_pipeline, pipeline_counts
from scorers.scoring import Scorecard, WindowInput, score
from scorers.state import DealState, RepProfile, RepState
from scorers.window_totals import WindowTotals, build, moved, with_changes


@dataclass(frozen=True, slots=True)
class Layout:
    """A definition laid out once for scoring reps: which windows, look-backs and KPIs."""

    definition: ScorecardDefinition
    folder: Folder
    windows: tuple[str, ...]
    """The scorecard's own windows: published to Redis and Kafka."""
    all_windows: tuple[str, ...]
    """Those and every window a rule names."""
    lookbacks: tuple[tuple[str, int], ...]
    idle_kpis: tuple[str, ...]
    idle_lookback_days: int
    version: int | None = None
    """The definition's published version, stamped on every card and alert."""

    @classmethod
    def of(
        cls,
        definition: ScorecardDefinition,
        version: int | None = None,
        kept_days: int | None = None,
    ) -> Layout:
        """``kept_days``: the history the state keeps (the definition's own when None)."""
        windows = tuple(definition.windows)
        return cls(
            version=version,
            definition=definition,
            folder=Folder(definition, kept_days),
            windows=windows,
            all_windows=windows + tuple(rule_windows(definition)),
            lookbacks=tuple(lookbacks(definition)),
            idle_kpis=tuple(inactivity_kpis(definition)),
            idle_lookback_days=inactivity_lookback_days(definition),
        )


@dataclass(slots=True)
class Memo:
    """What scoring a rep last made, with what it was made from, for the next scoring of
    the rep to reuse when that is the same. A rep's earlier days are past, and most of its
    events are no deal's: batch after batch, a change rule's earlier card and the pipeline
    were made again from the same input. One entry per as-of day scored (today and each
    look-back), replaced, never added to: it cannot grow."""

    pipelines: dict[tuple[str, int] | None, tuple[object, dict[str, PipelineCounts]]] = field(
        default_factory=dict
    )
    """Look-back (None: today) -> (definition, as-of day, windows, the rep's deals), and
    their counts."""
    in_pipeline: tuple[list[DealState], list[DealState]] = field(default_factory=lambda: ([], []))
    """The rep's deals, and those of them ``in_pipeline``."""
    earlier: dict[tuple[str, int], tuple[object, Scorecard]] = field(default_factory=dict)
    """Look-back -> (definition, version, rep, team, quota, totals, pipeline), and the card."""


@dataclass(frozen=True, slots=True)
class RepTotals:
    """A rep's window totals as of a day, and as of each change rule's earlier day."""

    main: WindowTotals
    earlier: tuple[WindowTotals, ...]
    """One per ``Layout.lookbacks``, as of ``main.as_of`` minus its days."""
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)
    """``score_rep``'s, handed on to the totals moved on from these."""


def totals_for(layout: Layout, state: RepState, as_of: Day, cached: RepTotals | None) -> RepTotals:
    """The rep's totals as of ``as_of`` for ``state``: moved on from ``cached``, or built."""
    if cached is None:
        return RepTotals(
            build(state, layout.all_windows, as_of),
            tuple(build(state, [w], as_of - days) for w, days in layout.lookbacks),
        )
    return RepTotals(
        moved(cached.main, state, as_of),
        tuple(
            moved(t, state, as_of - days)
            for t, (_, days) in zip(cached.earlier, layout.lookbacks, strict=True)
        ),
        cached.memo,
    )


def totals_with(totals: RepTotals, changes: Iterable[Change]) -> RepTotals:
    changes = tuple(changes)
    if not changes:
        return totals
    return RepTotals(
        with_changes(totals.main, changes),
        tuple(with_changes(t, changes) for t in totals.earlier),
        totals.memo,
    )


@dataclass(frozen=True, slots=True)
class ScoredRep:
    """A rep's scorecards as of a day, and what its team and its coaching rules need."""

    rep_id: str
    profile: RepProfile
    as_of: Day
    cards: tuple[Scorecard, ...]
    """The scorecard's own windows."""
    rule_cards: dict[str, Scorecard]
    """Every window a rule names (the scorecard's own included)."""
    earlier: dict[tuple[str, int], Scorecard]
    """(window, days back) -> the scorecard that many days earlier, for change rules."""
    inputs: dict[str, WindowInput]
    """The scorecard's windows' inputs, which the rep's team sums."""

    @property
    def team_id(self) -> str | None:
        return self.profile.team_id


def score_rep(layout: Layout, state: RepState, totals: RepTotals) -> ScoredRep:
    """The rep's cards from its window totals, and its deals for their pipeline."""
    definition, version, main, memo = layout.definition, layout.version, totals.main, totals.memo
    deals = list(state.deals.values())
    pipeline = _pipeline(definition, deals, main, None, memo)
    scored = rep_scorecards(definition, state, main, version, pipeline)
    earlier = {
        lookback: _earlier_card(layout, state, back, deals, memo, lookback)
        for lookback, back in zip(layout.lookbacks, totals.earlier, strict=True)
    }
    own = set(layout.windows)
    return ScoredRep(
        rep_id=state.rep_id,
        profile=state.rep_profile,
        as_of=main.as_of,
        cards=tuple(card for _, card in scored if card.window in own),
        rule_cards={card.window: card for _, card in scored},
        earlier=earlier,
        inputs={card.window: inp for inp, card in scored if card.window in own},
    )


def _pipeline(
    definition: ScorecardDefinition,
    deals: list[DealState],
    totals: WindowTotals,
    lookback: tuple[str, int] | None,
    memo: Memo,
) -> dict[str, PipelineCounts]:
    """``pipeline_counts`` of the rep's ``deals``, or the last ones counted from the same
    deals (the same objects, found by identity first: comparing costs a pointer a deal)."""
    made = (definition, totals.as_of, tuple(totals.spans), deals)
    last = memo.pipelines.get(lookback)
    if last is not None and last[0] == made:
        return last[1]
    known, open_deals = memo.in_pipeline
    if known != deals:
        open_deals = in_pipeline(deals)
        memo.in_pipeline = (deals, open_deals)
    counts = pipeline_counts(definition, open_deals, totals.spans, totals.as_of)
    memo.pipelines[lookback] = (made, counts)
    return counts


def _earlier_card(
    layout: Layout,
    state: RepState,
    back: WindowTotals,
    deals: list[DealState],
    memo: Memo,
    lookback: tuple[str, int],
) -> Scorecard:
    """A change rule's earlier card: the last one made if scored from the same totals,
    pipeline and profile (its input is not even built again)."""
    pipeline = _pipeline(layout.definition, deals, back, lookback, memo)
    profile = state.rep_profile
    made = (
        layout.definition, layout.version, state.rep_id, profile.team_id,
        profile.monthly_quota, back, pipeline,
    )  # fmt: skip
    last = memo.earlier.get(lookback)
    if last is not None and last[0] == made:
        return last[1]
    ((window, inp),) = rep_inputs(layout.definition, state, back, pipeline)
    card = score(
        layout.definition, inp, rep_id=state.rep_id, team_id=profile.team_id, window=window,
        as_of=back.as_of, version=layout.version,
    )  # fmt: skip
    memo.earlier[lookback] = (made, card)
    return card


def rep_facts(layout: Layout, state: RepState, scored: ScoredRep) -> RepFacts:
    """What the coaching rules look at for a just-scored rep."""
    quota = scored.profile.monthly_quota
    return RepFacts(
        rep_id=scored.rep_id,
        team_id=scored.team_id,
        as_of=scored.as_of,
        cards=scored.rule_cards,
        monthly_quota=layout.definition.default_monthly_quota if quota is None else quota,
        earlier=scored.earlier,
        last_active={
            kpi: last_active(state, kpi, scored.as_of, layout.idle_lookback_days)
            for kpi in layout.idle_kpis
        },
        active_since=scored.profile.first_day,
    )
