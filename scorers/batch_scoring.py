"""The reps of a batch scored, one by one after the fold: their cards that moved, score
events, team updates and coaching alerts (``scorers.planner`` puts them in the plan)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from schemas.outputs import CoachingAlert
from scorers.alerts import run_rules
from scorers.batch_fold import Folding
from scorers.calendar import Day
from scorers.effects import CardKey, CardUpdate, ScoreEvent, TeamUpdate, coaching_alert
from scorers.rep_scoring import (
    Layout,
    RepTotals,
    ScoredRep,
    rep_facts,
    score_rep,
    totals_for,
    totals_with,
)
from scorers.scoring import Scorecard
from scorers.state import RepState, RuleBook, evictions


class Scoring:
    """Reps scored one by one after the fold: their cards, score events, team updates and
    alerts."""

    def __init__(
        self,
        layout: Layout,
        folding: Folding,
        previous: Mapping[CardKey, Scorecard],
        now: datetime,
        carried: Mapping[str, Sequence[str]],
        *,
        rules: bool,
        new_definition: bool,
        cpu: Callable[[], float] | None = None,
    ) -> None:
        self.layout, self.folding, self.previous, self.now = layout, folding, previous, now
        self.carried, self.rules, self.new_definition = carried, rules, new_definition
        self.cpu = cpu
        self.all = False
        self.cpu_s = 0.0
        self.score_s = 0.0
        """Of ``cpu_s``, the CPU seconds in ``score_rep`` alone (every window's card)."""
        self.scored: list[str] = []
        self.totals: dict[str, RepTotals] = {}
        self.cards: list[CardUpdate] = []
        self.score_events: list[ScoreEvent] = []
        self.team_updates: list[TeamUpdate] = []
        self.alerts: dict[str, tuple[CoachingAlert, ...]] = {}
        self.failures: list[tuple[str, str]] = []

    def score(self, rep_id: str, as_of: Day, cached: RepTotals | None) -> None:
        layout, folding = self.layout, self.folding
        base = folding.states.get(rep_id)
        work = folding.reps.get(rep_id)
        if base is None and work is None:
            return
        try:
            # Totals come from the state before the batch, then take the batch's changes.
            rep_totals = totals_for(layout, base or RepState(rep_id), as_of, cached)
            if work is not None:
                rep_totals = totals_with(rep_totals, work.changes)
            self.totals[rep_id] = rep_totals
            state = work.state if work is not None else base
            assert state is not None
            if self.all:
                evicted = evictions(state, layout.folder.first_kept_day(as_of))
                if evicted:
                    work = folding.rep(rep_id)
                    state = work.state
                    state.apply(evicted)
                    work.writes.buckets.update(evicted.buckets)
                    work.writes.deals.update(evicted.deals)
            if not state.rep_profile.has_activity(as_of):
                return
            started = self.cpu() if self.cpu else 0.0
            scored = score_rep(layout, state, rep_totals)
            if self.cpu:
                self.score_s += self.cpu() - started
            fired = self._rules(state, scored) if self.rules else ()
        except Exception:  # a bug in scoring one rep must not stop the others
            self.failures.append((rep_id, traceback.format_exc()))
            return
        self.scored.append(rep_id)
        if fired:
            self.alerts[rep_id] = fired
        self._cards(scored, work.event_ids if work is not None else ())

    def _cards(self, scored: ScoredRep, event_ids: Sequence[str]) -> None:
        """The rep's cards that moved, their score events, and its team's update."""
        rep_id = scored.rep_id
        ids = [*self.carried.get(rep_id, ()), *event_ids]
        cause: dict[str, object] = (
            {"kind": "event", "event_id": ids[-1], "event_ids": ids}
            if ids
            else {
                "kind": "definition" if self.new_definition else "day_rollover",
                "event_id": None,
                "event_ids": [],
            }
        )
        old_teams = set()
        moved_any = False
        for card in scored.cards:
            before = self.previous.get((rep_id, card.window))
            if before is not None and before.team_id is not None:
                old_teams.add(before.team_id)
            if before == card:
                continue
            moved_any = True
            update = CardUpdate.of(card, before)
            self.cards.append(update)
            if before is None or not card.same_scores(before):
                self.score_events.append(ScoreEvent.of(update, cause, self.now))
        team = scored.team_id
        if team is not None and moved_any:
            self.team_updates.append(TeamUpdate(team, rep_id, scored.as_of, scored.inputs))
        for old in sorted(old_teams - {team}):
            self.team_updates.append(TeamUpdate(old, rep_id, scored.as_of))

    def _rules(self, state: RepState, scored: ScoredRep) -> tuple[CoachingAlert, ...]:
        """Run the rules on a scored rep; the alerts fired go to its outbox in the same write."""
        layout = self.layout
        if not layout.definition.alerts:
            return ()
        book = state.rules
        facts = rep_facts(layout, state, scored)
        fired, changed = run_rules(layout.definition, facts, book.states)
        if not changed and not fired:
            return ()
        alerts = tuple(coaching_alert(a, self.now, layout.version) for a in fired)
        bodies = tuple(a.model_dump(mode="json") for a in alerts)
        new_book = RuleBook({**book.states, **changed}, (*book.outbox, *bodies))
        work = self.folding.rep(state.rep_id)
        work.state.rules = work.writes.rules = new_book
        return alerts
