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
        fold's changes can then be added to them (and not read twice from the buckets)."""
        self._cached(self._totals, store.rep_id, self.all_windows).current(store, as_of)
        for window, days in self.lookbacks:
            back = self._cached(self._earlier, (store.rep_id, window, days), [window])
            back.current(store, as_of - days)

    def score(
        self, store: RepStore, as_of: Day, folded: FoldResult | None = None
    ) -> ScoredRep | None:
        """The rep's scorecards as of ``as_of``; ``folded`` is the event just applied, if any.

        None when the rep has no counted event up to ``as_of``.
        """
        totals = self._current(self._totals, store.rep_id, self.all_windows, store, as_of, folded)
        profile = store.profile()
        if not has_activity(profile, as_of):
            return None
        scored = rep_scorecards(self.definition, store.rep_id, profile, totals)
        earlier = {}
        for window, days in self.lookbacks:
            back = self._current(
                self._earlier, (store.rep_id, window, days), [window], store, as_of - days, folded
            )
            _, card = rep_scorecards(self.definition, store.rep_id, profile, back)[0]
            earlier[(window, days)] = card
        return ScoredRep(
            rep_id=store.rep_id,
            profile=profile,
            as_of=as_of,
            cards=[card for _, card in scored if card.window in self.windows],
            rule_cards={card.window: card for _, card in scored},
            earlier=earlier,
            inputs={card.window: inp for inp, card in scored if card.window in self.windows},
        )

    @staticmethod
    def _cached(cache: dict[object, WindowTotals], key: object, windows: list[str]) -> WindowTotals:
        totals = cache.get(key)
        if totals is None:
            totals = cache[key] = WindowTotals(windows)
        return totals

    def _current(
        self,
        cache: dict[object, WindowTotals],
        key: object,
        windows: list[str],
        store: RepStore,
        as_of: Day,
        folded: FoldResult | None,
    ) -> WindowTotals:
        """Totals as of ``as_of`` with the just-folded event's changes added.

        With ``folded``, ``prepare`` must have brought the totals to ``as_of`` first.
        """
        totals = self._cached(cache, key, windows)
        if totals.as_of == as_of:
            if folded is not None:
                totals.apply(folded.changes)
        else:
            assert folded is None, "prepare() the rep before folding an event"
            totals.current(store, as_of)
        return totals
