"""Scores reps in the worker: cached window totals, the previous scorecards, team inputs.

All of it is derived state the worker can rebuild from the tables, so it lives in
memory and is dropped whenever partitions move between workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day
from scorers.changes import ScorecardChange, change
from scorers.evaluate import has_activity, rep_scorecards
from scorers.fold import FoldResult
from scorers.scoring import Scorecard, WindowInput
from scorers.state import RepStore
from scorers.window_totals import WindowTotals


@dataclass(frozen=True, slots=True)
class ScoredRep:
    """A rep's new scorecards (with their change) and the inputs its team needs."""

    rep_id: str
    team_id: str | None
    previous_team_id: str | None
    cards: list[tuple[Scorecard, ScorecardChange]]
    inputs: dict[str, WindowInput]


class RepScoring:
    def __init__(self, definition: ScorecardDefinition) -> None:
        self.definition = definition
        self.windows = list(definition.windows)
        self._totals: dict[str, WindowTotals] = {}
        self._previous: dict[tuple[str, str], Scorecard] = {}
        self._teams: dict[str, str | None] = {}

    def forget(self) -> None:
        """Drop every cache: after a rebalance another worker may have changed the state."""
        self._totals.clear()
        self._previous.clear()
        self._teams.clear()

    def score(
        self, store: RepStore, as_of: Day, folded: FoldResult | None = None
    ) -> ScoredRep | None:
        """The rep's scorecards as of ``as_of``; ``folded`` is the event just applied, if any.

        None when the rep has no counted event up to ``as_of``.
        """
        totals = self._totals.get(store.rep_id)
        if totals is None:
            totals = self._totals[store.rep_id] = WindowTotals(self.windows)
        if folded is not None and totals.as_of == as_of:
            totals.apply(folded.changes)
        else:
            totals.rebuild(store, as_of)
        profile = store.profile()
        if not has_activity(profile, as_of):
            return None
        cards = []
        inputs = {}
        for inp, card in rep_scorecards(self.definition, store.rep_id, profile, totals):
            key = (store.rep_id, card.window)
            cards.append((card, change(self._previous.get(key), card)))
            self._previous[key] = card
            inputs[card.window] = inp
        previous_team = self._teams.get(store.rep_id, profile.team_id)
        self._teams[store.rep_id] = profile.team_id
        return ScoredRep(store.rep_id, profile.team_id, previous_team, cards, inputs)
