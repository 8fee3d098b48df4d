"""How the demo's leaderboard spreads: the backfill `make demo` plays, then N minutes of its
live simulator, scored by the replay (the same scoring as the worker).

    .venv/bin/python scripts/demo_spread.py [--days 30] [--rate R] [--minutes 0 10 60]

Prints, per window and live minutes, the median / p10 / p90 / min / max overall and how
many reps share a score (ties at 100 included). The default scorecard is calibrated so a
median rep scores about 60-75 and the board spreads out; run this after changing the
simulator, the Makefile's RATE or schemas/default_scorecard.yaml.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from datetime import UTC, datetime, time, timedelta

from schemas.events import Event
from schemas.scorecard_definition import load_definition
from scorers.replay import Replay
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator

WINDOWS = ["7d", "30d"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="live events per second")
    parser.add_argument("--minutes", type=float, nargs="+", default=[0, 10, 60])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    # As `make demo`: the backfill ends at today's midnight (UTC), the live run starts at
    # 10:00 UTC that day (mid-morning in Europe, early in the Americas) with the backfill's org.
    end = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    backfill = list(Simulator(SimulationConfig(seed=args.seed)).backfill(args.days, end))
    live = Simulator(SimulationConfig(seed=args.seed + 1, org_seed=args.seed))
    now = [end + timedelta(hours=10)]
    stream = live.live(
        args.rate,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + timedelta(seconds=s)),
    )
    played: list[Event] = []
    print(f"{'live min':>8} {'window':>6} {'reps':>4} {'median':>6} {'p10':>5} {'p90':>5} "
          f"{'min':>5} {'max':>5} {'at 100':>6} {'tied':>4}")  # fmt: skip
    for minutes in sorted(args.minutes):
        while now[0] < end + timedelta(hours=10, minutes=minutes):
            played.append(next(stream))
        replay = Replay(load_definition(None))
        for n, event in enumerate([*backfill, *played]):
            replay.feed(n, event.model_dump_json())
        cards = replay.result(WINDOWS).scorecards
        for window in WINDOWS:
            scores = sorted(
                c.overall for c in cards if c.window == window and c.overall is not None
            )
            deciles = statistics.quantiles(scores, n=10)
            tied = sum(n for n in Counter(round(s, 1) for s in scores).values() if n > 1)
            print(
                f"{minutes:8g} {window:>6} {len(scores):4d} {statistics.median(scores):6.1f} "
                f"{deciles[0]:5.1f} {deciles[-1]:5.1f} {scores[0]:5.1f} {scores[-1]:5.1f} "
                f"{sum(s >= 99.95 for s in scores):6d} {tied:4d}"
            )


if __name__ == "__main__":
    main()
