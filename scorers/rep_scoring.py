"""Scores reps in the worker from window totals kept in memory.

The totals (for the scorecard's windows, the windows alert rules look at, and the
earlier days change rules compare with) are derived state the worker can rebuild
from the tables, so they live in memory and are dropped whenever partitions move
between workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.scorecard_definition import ScorecardDefinition
from scorers.alerts import lookbacks, rule_windows
from scorers.calendar import Day
from scorers.evaluate import has_activity, rep_scorecards
from scorers.fold import FoldResult
from scorers.scoring import Scorecard, WindowInput
from scorers.state import RepProfile, RepStore
from scorers.window_totals import WindowTotals


@dataclass(frozen=True, slots=True)
class ScoredRep:
    """A rep's scorecards as of a day, and what its team and its coaching rules need."""

    rep_id: str
    profile: RepProfile
    as_of: Day
    cards: list[Scorecard]
    """The scorecard's own windows: published to Redis and Kafka."""
    rule_cards: dict[str, Scorecard]
    """Every window a rule names (the scorecard's own included), for alert rules."""
    earlier: dict[tuple[str, int], Scorecard]
    """(window, days back) -> the scorecard that many days earlier, for change rules."""
    inputs: dict[str, WindowInput]

    @property
    def team_id(self) -> str | None:
        return self.profile.team_id


class RepScoring:
    def __init__(self, definition: ScorecardDefinition) -> None:
        self.definition = definition
        self.windows = list(definition.windows)
        self.all_windows = self.windows + rule_windows(definition)
        self.lookbacks = lookbacks(definition)
        self._totals: dict[object, WindowTotals] = {}
        self._earlier: dict[object, WindowTotals] = {}

    def forget(self) -> None:
        """Drop every cache: after a rebalance another worker may have changed the state."""
        self._totals.clear()
        self._earlier.clear()

    def prepare(self, store: RepStore, as_of: Day) -> None:
        """Bring the rep's cached totals to ``as_of`` *before* an event is folded, so the
        fold's changes can then be ``add``ed to them (and not read twice from the buckets)."""
        for totals, day in self._rep_totals(store.rep_id, as_of):
            totals.current(store, day)

    def add(self, rep_id: str, as_of: Day, folded: FoldResult) -> None:
        """Add a just-folded event's changes to the totals ``prepare`` brought to ``as_of``."""
        for totals, _ in self._rep_totals(rep_id, as_of):
            totals.apply(folded.changes)

    def score(self, store: RepStore, as_of: Day) -> ScoredRep | None:
        """The rep's scorecards as of ``as_of``, from totals that hold every folded event.

        None when the rep has no counted event up to ``as_of``.
        """
        profile = store.profile()
        if not has_activity(profile, as_of):
            return None
        (totals, _), *earlier_totals = self._rep_totals(store.rep_id, as_of)
        totals.current(store, as_of)
        scored = rep_scorecards(self.definition, store.rep_id, profile, totals)
        earlier = {}
        for lookback, (back, day) in zip(self.lookbacks, earlier_totals, strict=True):
            back.current(store, day)
            _, card = rep_scorecards(self.definition, store.rep_id, profile, back)[0]
            earlier[lookback] = card
        return ScoredRep(
            rep_id=store.rep_id,
            profile=profile,
            as_of=as_of,
            cards=[card for _, card in scored if card.window in self.windows],
            rule_cards={card.window: card for _, card in scored},
            earlier=earlier,
            inputs={card.window: inp for inp, card in scored if card.window in self.windows},
        )

    def _rep_totals(self, rep_id: str, as_of: Day) -> list[tuple[WindowTotals, Day]]:
        """The rep's cached totals, each with the day it is kept as of: the windows as of
        ``as_of`` first, then one per look-back of a change rule."""
        out = [(self._cached(self._totals, rep_id, self.all_windows), as_of)]
        for window, days in self.lookbacks:
            back = self._cached(self._earlier, (rep_id, window, days), [window])
            out.append((back, as_of - days))
        return out

    @staticmethod
    def _cached(cache: dict[object, WindowTotals], key: object, windows: list[str]) -> WindowTotals:
        totals = cache.get(key)
        if totals is None:
            totals = cache[key] = WindowTotals(windows)
        return totals
