"""Replay benchmark: the replay engine beside a bare orjson.loads loop, same file, same run.

Usage: python scripts/bench_replay.py [--events N] [--seed S]

Generates (once, cached under .local/bench/) a simulator log of N events, then runs
each contender in its own process so peak memory (ru_maxrss) is its own. Prints the
machine, both rates, their ratio and peak memory; the last line is machine-readable.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_common import BENCH_DIR, ROOT, SIMULATED_ORG, backfill_days, machine


def make_log(events: int, seed: int) -> Path:
    path = BENCH_DIR / f"replay-{events}-seed{seed}.jsonl"
    if path.exists():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    subprocess.run(
        [str(Path(sys.executable).parent / "scorestream"), "simulate",
         "--days", str(backfill_days(events)), "--end", "2026-11-01", "--seed", str(seed),
         *SIMULATED_ORG,
         "--limit", str(events), "--out", str(tmp)],
        check=True, cwd=ROOT,
    )  # fmt: skip
    tmp.rename(path)
    return path


def child_bare(path: str) -> dict[str, float]:
    import orjson

    start = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
    return {"events": n, "seconds": time.perf_counter() - start}


def child_replay(path: str) -> dict[str, float]:
    import orjson

    from schemas.scorecard_definition import load_definition
    from scorers.replay import Replay
    from streams.runtime.gc_tuning import quiet_gc

    quiet_gc()  # as `scorestream replay` does
    start = time.perf_counter()
    engine = Replay(load_definition())
    n = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                engine.feed(n, line)
    result = engine.result()
    with open(os.devnull, "wb") as sink:
        sink.write(orjson.dumps(result.to_json_dict()))
    return {
        "events": n,
        "seconds": time.perf_counter() - start,
        "reps": len({s.rep_id for s in result.scorecards}),
    }


def run_child(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        stats = child_bare(path) if kind == "bare" else child_replay(path)
        stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(stats))
        return

    print(f"machine: {machine()}", file=sys.stderr)
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}", file=sys.stderr)
    path = make_log(args.events, args.seed)
    size_mb = path.stat().st_size / 1e6
    print(f"log: {path.relative_to(ROOT)} ({size_mb:.0f} MB)", file=sys.stderr)
    bare = run_child("bare", path)
    replay = run_child("replay", path)
    bare_eps = bare["events"] / bare["seconds"]
    replay_eps = replay["events"] / replay["seconds"]
    print(
        f"bare orjson.loads: {bare['events']:,.0f} lines in {bare['seconds']:.2f} s"
        f" = {bare_eps:,.0f} lines/s, peak RSS {bare['peak_rss_mb']:.0f} MB"
    )
    print(
        f"replay:            {replay['events']:,.0f} lines in {replay['seconds']:.2f} s"
        f" = {replay_eps:,.0f} events/s, peak RSS {replay['peak_rss_mb']:.0f} MB"
        f" ({replay['reps']:.0f} reps)"
    )
    print(
        f"replay_eps={replay_eps:.0f} bare_eps={bare_eps:.0f} ratio={replay_eps / bare_eps:.3f}"
        f" replay_peak_mb={replay['peak_rss_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
