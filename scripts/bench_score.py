"""Scoring benchmark: CPU microseconds to score one rep, all windows, off the stream.

Usage: python scripts/bench_score.py [--days D] [--rounds R]

Folds a simulated org's history (the benchmarks' 200 reps, D days) with the replay, then
scores every rep R times as the worker does (``scorers.rep_scoring.score_rep``: every window
of the scorecard and of its rules, and each change rule's earlier card) and reports the
median round. It isolates what issue 24 calls ``score_us_per_rep``: `make bench` measures the
worker as a whole. The last line is machine-readable.

Each round scores from the totals the worker keeps, so what ``score_rep`` may reuse from the
last round (a change rule's earlier card, the pipeline counts: ``RepTotals.memo``) is reused,
as for a rep whose new events are none of a deal's and none before the rule's earlier day.
``score_cold_us_per_rep`` is the same with nothing to reuse (a rep with a deal event).

``cards_us_per_rep`` is what publishing a rep's cards then costs the core, for an event
that moved one KPI of each: every card's update against the card it replaces (its body and
change, ``scorers.effects.CardUpdate.of``) and its score event (``ScoreEvent.of``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime

from bench_common import machine, progress

from schemas.scorecard_definition import load_definition
from scorers.effects import CardUpdate, ScoreEvent
from scorers.rep_scoring import Layout, Memo, score_rep, totals_for
from scorers.replay import Replay
from scorers.scoring import Scorecard
from streams.runtime.gc_tuning import quiet_gc
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator

END = datetime(2026, 3, 6, tzinfo=UTC)


def score_us_per_rep(days: int, rounds: int) -> tuple[float, float, float, int]:
    """The median round's CPU µs per rep, the same with nothing kept from the last round
    (cold: a new ``RepTotals.memo`` each round), to publish a rep's cards, and the number
    of reps."""
    definition = load_definition()
    replay = Replay(definition, now=END)
    simulator = Simulator(SimulationConfig(seed=1, teams=4, reps_per_team=50))
    for n, event in enumerate(simulator.backfill(days, END), start=1):
        replay.feed(n, event.model_dump_json())
    layout, as_of = Layout.of(definition, 1), replay.as_of
    assert as_of is not None, "the simulated history is empty"
    states = list(replay.stores.values())
    totals = {s.rep_id: totals_for(layout, s, as_of, None) for s in states}
    progress(f"folded {days} days for {len(states)} reps; scoring them 2 x {rounds} times")
    quiet_gc()  # as the worker runs
    figures = []
    for cold in (False, True):
        per_round = []
        for _ in range(rounds):
            if cold:
                totals = {rep: replace(t, memo=Memo()) for rep, t in totals.items()}
            start = time.process_time()
            for state in states:
                score_rep(layout, state, totals[state.rep_id])
            per_round.append((time.process_time() - start) / len(states) * 1e6)
        figures.append(statistics.median(per_round))
    previous = {}
    for state in states:  # the cards an event replaced, published once already
        for card in score_rep(layout, state, totals[state.rep_id]).cards:
            previous[(state.rep_id, card.window)] = before = _one_kpi_earlier(card)
            CardUpdate.of(before, None)
    per_round = []
    for _ in range(rounds):
        cards = [c for s in states for c in score_rep(layout, s, totals[s.rep_id]).cards]
        start = time.process_time()
        for card in cards:
            ScoreEvent.of(CardUpdate.of(card, previous[(card.rep_id, card.window)]), CAUSE, END)
        per_round.append((time.process_time() - start) / len(states) * 1e6)
    return figures[0], figures[1], statistics.median(per_round), len(states)


CAUSE = {"kind": "event", "event_id": "e1", "event_ids": ["e1"]}


def _one_kpi_earlier(card: Scorecard) -> Scorecard:
    """``card`` before an event that moved its first KPI (a call logged, say)."""
    kpis = dict(card.kpis)
    name, kpi = next(iter(kpis.items()))
    kpis[name] = kpi._replace(samples=kpi.samples + 1, contribution=kpi.contribution + 0.5)
    return replace(card, kpis=kpis, overall=None if card.overall is None else card.overall - 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    figure, cold, cards, reps = score_us_per_rep(args.days, args.rounds)
    print(f"machine: {machine()}")
    print(f"scoring: {reps} reps, {args.days} days of history, median of {args.rounds} rounds")
    print(f"score_cold_us_per_rep={cold:.1f}")
    print(f"cards_us_per_rep={cards:.1f}")
    print(f"score_us_per_rep={figure:.1f}")


if __name__ == "__main__":
    main()
