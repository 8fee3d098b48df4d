"""Scoring benchmark: CPU microseconds to score one rep, all windows, off the stream.

Usage: python scripts/bench_score.py [--days D] [--rounds R] [--batches N] [--batch B]

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

``plan_us_per_event`` is the core's whole cost of a live event: the simulator's live stream
after the history, in batches of ``--batch`` events (30: a batch written every 30 ms at
1,000 events/s, as a worker well within the latency aim writes them), each planned by
``scorers.planner.plan_batch`` as a caught-up worker does (decoded, folded, its reps scored
with their rules, cards and score events made) and taken into the worker's memory. What
is left of the worker's CPU per event in `make bench` is the shell's I/O and faust's: the
figure tells the two apart, without a machine's noise from Kafka and Redis.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bench_common import machine, progress

from schemas import topics
from schemas.events import TOPIC_OF_EVENT_TYPE, Event
from schemas.scorecard_definition import load_definition
from scorers.clock import ClockMode
from scorers.effects import CardUpdate, ScoreEvent
from scorers.intake import Message
from scorers.planner import plan_batch
from scorers.rep_scoring import Layout, Memo, score_rep, totals_for
from scorers.replay import Replay
from scorers.scoring import Scorecard
from streams.runtime.gc_tuning import quiet_gc
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator
from streams.worker.memory import Memory
from streams.worker.progress import Consumer, Pace

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
        cards = [
            (s.rep_id, c) for s in states for c in score_rep(layout, s, totals[s.rep_id]).cards
        ]
        start = time.process_time()
        for rep_id, card in cards:
            ScoreEvent.of(CardUpdate.of(card, previous[(rep_id, card.window)]), CAUSE, END)
        per_round.append((time.process_time() - start) / len(states) * 1e6)
    return figures[0], figures[1], statistics.median(per_round), len(states)


CAUSE = {"kind": "event", "event_id": "e1", "event_ids": ["e1"]}


def _one_kpi_earlier(card: Scorecard) -> Scorecard:
    """``card`` before an event that moved its first KPI (a call logged, say)."""
    kpis = dict(card.kpis)
    name, kpi = next(iter(kpis.items()))
    kpis[name] = kpi._replace(samples=kpi.samples + 1, contribution=kpi.contribution + 0.5)
    return replace(card, kpis=kpis, overall=None if card.overall is None else card.overall - 0.5)


def plan_us_per_event(days: int, batches: int, size: int) -> tuple[float, float]:
    """The CPU µs per live event to plan its batch and take the plan in, and the reps
    scored per batch (see the module's docstring)."""
    layout = Layout.of(load_definition(), 1)
    simulator = Simulator(SimulationConfig(seed=1, teams=4, reps_per_team=50))
    offsets: defaultdict[str, int] = defaultdict(int)

    def message(event: Event) -> Message:
        topic = TOPIC_OF_EVENT_TYPE[event.event_type]
        offsets[topic] += 1
        value = event.model_dump_json().encode()
        return Message(event.rep_id.encode(), value, topic, 0, offsets[topic] - 1)

    # The worker's own pacing decides what each batch does, as in ``Shell.handle``: the
    # consumer's end is what was read so far, so a batch is caught up once it is handled.
    ends = dict.fromkeys(((topic, 0) for topic in topics.CRM_INPUTS), 0)
    consumer = Consumer(lambda: set(ends), ends.get, lambda _: None)
    pace = Pace(ClockMode.WALL, topics.CRM_INPUTS, consumer, behind_s=5.0)
    memory, clock = Memory(partitions={0}), [END]

    def run(messages: list[Message]) -> int:
        for m in messages:
            ends[(m.topic, m.partition)] = m.offset + 1
        inp = pace.batch(messages, memory, layout, clock[0])
        plan = plan_batch(layout, inp, memory.states, memory.totals, memory.previous)
        memory.absorb(plan)
        pace.done(inp)
        return len(plan.scored)

    history = [message(e) for e in simulator.backfill(days, END)]
    for first in range(0, len(history), 1000):
        run(history[first : first + 1000])
    run([])  # caught up: every rep scored once, its cards the ones to diff

    def tick() -> datetime:
        clock[0] += timedelta(milliseconds=1)  # 1,000 events/s
        return clock[0]

    live = simulator.live(1000.0, tick, lambda _: None)
    stream = [message(e) for e in itertools.islice(live, batches * size)]
    progress(f"folded {days} days; planning {batches} live batches of {size} events")
    quiet_gc()
    scored, start = 0, time.process_time()
    for n in range(batches):
        scored += run(stream[n * size : (n + 1) * size])
    spent = time.process_time() - start
    return spent / len(stream) * 1e6, scored / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batches", type=int, default=1000, help="live batches to plan")
    parser.add_argument("--batch", type=int, default=30, help="events per live batch")
    args = parser.parse_args()
    figure, cold, cards, reps = score_us_per_rep(args.days, args.rounds)
    per_event, per_batch = plan_us_per_event(args.days, args.batches, args.batch)
    print(f"machine: {machine()}")
    print(f"scoring: {reps} reps, {args.days} days of history, median of {args.rounds} rounds")
    print(f"score_cold_us_per_rep={cold:.1f}")
    print(f"cards_us_per_rep={cards:.1f}")
    print(f"live: {args.batches} batches of {args.batch} events, {per_batch:.1f} reps a batch")
    print(f"plan_us_per_event={per_event:.1f}")
    print(f"score_us_per_rep={figure:.1f}")


if __name__ == "__main__":
    main()
