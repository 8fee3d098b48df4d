"""Worker benchmark: `scorestream worker` end to end (Kafka in, Redis out) beside its baselines.

Usage: python scripts/bench_worker.py [--events N] [--workers W] [--rate R] [--low-rate R]
                                      [--duration S] [--seed S] [--profile FILE]

One run, in order:
  1. fresh state: `scorestream reset --yes --app-id bench` with the Redis prefix `bench`
     (this deletes EVERY Scorestream topic on the broker, as reset does: not while a demo
     runs; the run ends with another reset, so a later `make demo` does not read the
     benchmark's 200 reps);
  2. N simulated events (200 reps, fixed seed and end date) pre-produced to the crm.* topics;
  3. baselines over the same messages: a bare aiokafka consumer (no group, orjson-decodes
     each value) and the faust floor (scripts/faust_floor_app.py: a faust agent that only
     decodes, the ceiling of any faust worker);
  4. backlog: W workers (one consumer group, the default scorecard, `--clock event`) from
     process start until their /metrics say every input message was handled and the last
     cards were written to Redis; the rate counts from the first message handled to the
     last, as the floor's does;
  5. live, with the same workers running: for each of R, the low rate and a tenth of the
     faust floor measured in step 3 (a rate that compares across machines), a 2 s warm-up
     (not counted: the first live event moves the event clock to today and every rep is
     scored again once) and then `scorestream simulate --rate R --duration S`; the event ->
     Redis latency is the workers' histogram (Kafka record timestamp -> the card flushed to
     Redis), after minus before, bucket-interpolated; the CPU to score a rep is the workers'
     scoring CPU counter over the reps they scored (the sum of their reps-per-batch
     histogram), over the three measured phases;
  6. memory (each worker's VmHWM) and state: the state table as its changelog holds it
     now (last record per key), per rep.

Progress goes to stderr; figures to stdout, one per line, the last one machine-readable:
`worker_eps=… floor_eps=… bare_eps=… floor_ratio=… p99_ms=… p99_1k_ms=… p99_10pct_ms=…
state_kb_per_rep=… score_us_per_rep=…` (p99_ms at R, p99_1k_ms at the low rate, p99_10pct_ms
at a tenth of floor_eps; inf when a p99 falls above the histogram's last bucket, nan when
the floor failed; score_us_per_rep the CPU µs to score one rep, all windows, live). The
workers are stopped (SIGTERM, then SIGKILL after 30 s) however the script ends.

--profile FILE (one worker) runs it under pyinstrument and writes the profile of its start
and the backlog (step 4) to FILE (call tree) and FILE.flat.txt (self time per function), and
that of the live phases (step 5) to FILE-live and FILE-live.flat.txt; the figures of that run
include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final

from bench_common import (
    BENCH_DIR,
    ROOT,
    SIMULATED_ORG,
    BenchError,
    backfill_days,
    machine,
    progress,
)
from bench_kafka import (
    APP_ID,
    InputGuard,
    bare_consume,
    changelog_topics,
    faust_floor,
    input_messages,
    live_state_bytes,
    watermarks,
)
from bench_metrics import (
    LATENCY,
    Quantile,
    Scrape,
    delta,
    per_bucket,
    quantile,
    reps_scored,
    us_per_rep,
)
from bench_workers import (
    DATA_DIR,
    SCORESTREAM,
    Workers,
    disk_usage,
    render_profile,
    restart_profile,
    running_workers,
    save_profile,
    wait_drained,
)
from confluent_kafka import KafkaException

from schemas import topics
from schemas.settings import Settings

REDIS_PREFIX: Final = "bench"
BACKFILL_END: Final = "2026-11-01"
WARM_UP_S: Final = 2.0
FLOOR_SHARE: Final = 0.1
"""The third live rate as a share of the faust floor (p99_10pct_ms)."""
COMMANDS_LOG: Final = BENCH_DIR / "commands.log"


class Interrupted(Exception):
    """SIGTERM or SIGINT: stop the workers and leave."""


def bench_env() -> dict[str, str]:
    return {
        **os.environ,
        "SCORESTREAM_REDIS_PREFIX": REDIS_PREFIX,
        "SCORESTREAM_LOG_FORMAT": "json",
    }


def scorestream(*args: str, capture: bool = False) -> str:
    """Run a scorestream command to completion; its stdout when ``capture``. Its logs go
    to COMMANDS_LOG, not among the progress lines."""
    with COMMANDS_LOG.open("a") as log:
        done = subprocess.run(
            [SCORESTREAM, *args], cwd=ROOT, env=bench_env(), check=False, text=True,
            stdout=subprocess.PIPE if capture else log, stderr=log,
        )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(
            f"`scorestream {' '.join(args)}` exited with {done.returncode}; see {COMMANDS_LOG}"
        )
    return done.stdout if capture else ""


def reset() -> None:
    for attempt in range(1, 5):
        try:
            scorestream("reset", "--yes", "--app-id", APP_ID, "--data-dir", str(DATA_DIR))
            return
        except BenchError:
            # A worker of an interrupted run keeps the group "not empty" until its session
            # times out on the broker.
            if attempt == 4:
                raise
            progress("reset failed (a previous bench worker's group?); again in 20 s")
            time.sleep(20)


def leave_empty() -> None:
    """Reset once more, so the next demo starts from empty topics; a failure here is told,
    never raised over the run's own error."""
    progress("reset: the benchmark's topics and state go")
    try:
        scorestream("reset", "--yes", "--app-id", APP_ID, "--data-dir", str(DATA_DIR))
    except BenchError as exc:
        progress(f"the final reset failed ({exc}): run `scorestream reset --yes` before a demo")


def inputs(settings: Settings) -> list[tuple[str, int]]:
    return [(t, p) for t in topics.CRM_INPUTS for p in range(settings.partitions)]


@dataclass(frozen=True)
class Live:
    rate: float
    messages: int
    seconds: float
    drain_s: float
    """From the simulator's end to the last card in Redis."""
    before: Scrape
    after: Scrape

    def p(self, q: float, histogram: str = LATENCY) -> Quantile | None:
        return quantile(delta(self.before, self.after, histogram), q)

    def p99_ms(self) -> float:
        """The event -> Redis p99 of the figure line; nan when no event was scored."""
        p99 = self.p(0.99)
        return math.nan if p99 is None else p99.ms()


def simulate_live(workers: Workers, settings: Settings, rate: float, seconds: float, seed: int,
                  org_seed: int, before: Scrape) -> Live:  # fmt: skip
    """`scorestream simulate --rate --duration` against the running workers, until drained:
    new events (``seed``) of the pre-produced org, so no rep changes team."""
    before_messages = input_messages(settings)
    begin = time.perf_counter()
    scorestream(
        "simulate", "--rate", f"{rate:g}", "--duration", f"{seconds:g}", "--seed", str(seed),
        "--org-seed", str(org_seed), *SIMULATED_ORG, "--json", "--no-progress", capture=True,
    )  # fmt: skip
    took = time.perf_counter() - begin
    messages = input_messages(settings) - before_messages
    guard = InputGuard(settings, before_messages + messages)
    drained = wait_drained(workers, before.events_in + messages, inputs(settings),
                           max(300.0, messages / 50), guard)  # fmt: skip
    return Live(rate, messages, took, drained.done_s, before, drained.scrape)


def live_phase(workers: Workers, settings: Settings, rate: float, seconds: float, seed: int,
               org_seed: int, before: Scrape) -> Live:  # fmt: skip
    progress(f"live at {rate:g}/s: {WARM_UP_S:g} s warm-up, then {seconds:g} s measured")
    warm = simulate_live(workers, settings, rate, WARM_UP_S, seed, org_seed, before)
    cpu_before, main_before = workers.cpu_seconds(), workers.main_thread_cpu_seconds()
    live = simulate_live(workers, settings, rate, seconds, seed + 1, org_seed, warm.after)
    cpu = workers.cpu_seconds() - cpu_before
    main = workers.main_thread_cpu_seconds() - main_before
    shown = {q: live.p(q) for q in (0.5, 0.95, 0.99)}
    observed = live.after.count(LATENCY) - live.before.count(LATENCY)
    latency_sum = live.after.sums.get(LATENCY, 0.0) - live.before.sums.get(LATENCY, 0.0)
    mean = f"{latency_sum / observed * 1000:,.1f} ms" if observed else "n/a"
    print(
        f"live at {rate:g}/s: {live.messages:,} messages in {live.seconds:.1f} s ="
        f" {live.messages / live.seconds:,.0f} msg/s offered; drained"
        f" {live.drain_s:.1f} s after the simulator stopped; worker CPU {cpu:.1f} s"
        f" = {cpu / live.messages * 1000:.2f} ms a message"
    )
    print(
        "  event -> Redis: "
        + ", ".join(f"p{round(q * 100)} {v.show() if v else 'n/a'}" for q, v in shown.items())
        + f", mean {mean} over {observed:,.0f} scored events"
    )
    print(f"  worker CPU by thread: the event loop {main:.1f} s, the others (faust's consumer"
          f" thread) {cpu - main:.1f} s")  # fmt: skip
    buckets = per_bucket(delta(live.before, live.after, LATENCY))
    print(f"  histogram (upper bound s: events): {buckets}")
    span = [(live.before, live.after)]
    print(f"  scoring: {us_per_rep(span):,.1f} µs CPU a rep ({us_per_rep(span, planning=True):,.1f}"
          f" with its rules, card changes and score events) over"
          f" {reps_scored(live.before, live.after):,.0f} reps scored")  # fmt: skip
    for name, what, unit in (
        ("scorestream_arrival_seconds", "record timestamp -> worker holds it", "ms"),
        ("scorestream_batch_seconds", "handling one batch", "ms"),
        ("scorestream_batch_messages", "messages per batch", "messages"),
    ):
        cut = {q: live.p(q, name) for q in (0.5, 0.99)}
        shown_cut = (f"p{round(q * 100)} {v.show(unit) if v else 'n/a'}" for q, v in cut.items())
        print(f"  {what}: " + ", ".join(shown_cut))
    return live


def phase_session(session: Path, phase: str) -> Path:
    """Where a phase's profile is kept (the profiled worker always writes ``session``)."""
    return session.with_name(f"{session.stem}-{phase}.pyisession")


def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    n: int = args.events
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"kafka: {settings.kafka_bootstrap}, {settings.partitions} partitions a topic;"
          f" redis prefix: {REDIS_PREFIX}; workers: {args.workers}")  # fmt: skip

    progress(f"1/6 reset: app-id {APP_ID}, data dir {DATA_DIR.relative_to(ROOT)}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    COMMANDS_LOG.write_text("")
    reset()

    days = backfill_days(n)
    progress(f"2/6 producing {n:,} simulated events ({days} days to {BACKFILL_END})")
    begin = time.perf_counter()
    summary = json.loads(scorestream(
        "simulate", "--days", str(days), "--end", BACKFILL_END, "--seed", str(args.seed),
        *SIMULATED_ORG, "--limit", str(n), "--malformed-share", "0", "--json",
        "--no-progress", capture=True,
    ))  # fmt: skip
    ranges = watermarks(settings, topics.CRM_INPUTS)
    produced = sum(high - low for low, high in ranges.values())
    reps = int(summary.get("reps", 0))
    print(f"produced: {produced:,} messages, {days} days, {reps} reps, in"
          f" {time.perf_counter() - begin:.1f} s ({summary.get('duplicates', 0):,} redelivered,"
          f" {summary.get('late', 0):,} late)")  # fmt: skip

    progress("3/6 baselines: bare aiokafka consumer, then the faust floor")
    begin = time.perf_counter()
    bare_count = asyncio.run(bare_consume(settings, ranges))
    bare_eps = bare_count / (time.perf_counter() - begin)
    print(f"bare consumer: {bare_count:,} messages = {bare_eps:,.0f} msg/s")
    floor_eps = faust_floor(settings, produced, bench_env()) or math.nan
    print(f"faust floor (an agent that only decodes): {floor_eps:,.0f} msg/s,"
          f" {floor_eps / bare_eps:.3f} of bare")  # fmt: skip

    progress(f"4/6 backlog: {args.workers} worker(s) until every message is handled")
    session = None if args.profile is None else args.profile.with_suffix(".pyisession")
    with running_workers(args.workers, bench_env(), session) as workers:
        guard = InputGuard(settings, produced)
        drained = wait_drained(
            workers, produced, inputs(settings), max(600.0, produced / 50), guard
        )
        first = drained.first_s if drained.first_s is not None else 0.0
        worker_eps = produced / max(drained.done_s - first, 1e-9)
        backlog = drained.scrape
        if session is not None:
            save_profile(workers, session, phase_session(session, "backlog"))
        print(f"workers, backlog: {produced:,} messages = {worker_eps:,.0f} msg/s from the"
              f" first handled to the last card written ({first:.1f} s of start-up before;"
              f" {produced / drained.done_s:,.0f} msg/s from process start)"
              + (" under pyinstrument" if session else ""))  # fmt: skip
        dead = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(backlog.dead_letters.items()))
        batches = backlog.count("scorestream_batch_messages")
        per_batch = backlog.sums.get("scorestream_batch_messages", 0.0) / max(batches, 1)
        cpu = workers.cpu_seconds()
        print(f"  worker CPU since start {cpu:.1f} s = {cpu / produced * 1000:.3f} ms a message")
        print(f"  {backlog.duplicates:,.0f} duplicates, dead letters: {dead or 'none'},"
              f" {backlog.scorecards:,.0f} scorecards written, {batches:,.0f} batches of"
              f" {per_batch:,.1f} messages on average")  # fmt: skip

        progress("5/6 live")
        if session is not None:
            restart_profile(workers)
        live = (workers, settings)
        high = live_phase(*live, args.rate, args.duration, args.seed + 1, args.seed, backlog)
        low = live_phase(*live, args.low_rate, args.duration, args.seed + 3, args.seed, high.after)
        tenth: Live | None = None
        if math.isfinite(floor_eps):
            tenth_rate = max(1.0, round(FLOOR_SHARE * floor_eps))
            tenth = live_phase(*live, tenth_rate, args.duration, args.seed + 5, args.seed,
                               low.after)  # fmt: skip
        else:
            progress(f"no live phase at {FLOOR_SHARE:.0%} of the faust floor: it failed")
        phases = [high, low] if tenth is None else [high, low, tenth]
        if session is not None:
            save_profile(workers, session, phase_session(session, "live"))

        progress("6/6 memory and state")
        peaks = workers.peak_rss_mb()
        total_in = phases[-1].after.events_in
    print(
        "peak memory (VmHWM): "
        + ", ".join(f"worker {i + 1} {mb:,.0f} MB" for i, mb in enumerate(peaks))
    )
    state_bytes, keys = live_state_bytes(settings)
    state_kb_per_rep = state_bytes / max(reps, 1) / 1e3
    print(
        f"state: {state_bytes / 1e6:,.1f} MB in {keys:,} live changelog keys ="
        f" {state_kb_per_rep:,.1f} kB per rep; RocksDB dirs {disk_usage(DATA_DIR) / 1e6:,.1f} MB"
    )
    changelogs = changelog_topics(settings)
    records = sum(h - lo for lo, h in watermarks(settings, changelogs).values())
    print(f"changelog records: {records:,} = {records / max(total_in, 1):.2f} per input message")

    if session is not None:
        live_profile = args.profile.with_name(args.profile.name + "-live")
        render_profile(phase_session(session, "backlog"), args.profile)
        render_profile(phase_session(session, "live"), live_profile)
        progress(f"profiles: {args.profile}, {live_profile} and their .flat.txt")
    p99_10pct = math.nan if tenth is None else tenth.p99_ms()
    score_us = us_per_rep((phase.before, phase.after) for phase in phases)
    print(
        f"worker_eps={worker_eps:.1f} floor_eps={floor_eps:.1f} bare_eps={bare_eps:.1f}"
        f" floor_ratio={worker_eps / floor_eps:.4f} p99_ms={high.p99_ms():.1f}"
        f" p99_1k_ms={low.p99_ms():.1f}"
        f" p99_10pct_ms={p99_10pct:.1f} state_kb_per_rep={state_kb_per_rep:.1f}"
        f" score_us_per_rep={score_us:.1f}"
    )


@contextmanager
def exclusive_run() -> Iterator[None]:
    """One run at a time: two would share the app id, the topics and the web ports (and
    bench_ingest.py resets the same topics)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with (BENCH_DIR / "bench_worker.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise BenchError(f"another benchmark run (pid {lock.read().strip() or '?'}) is in"
                             " progress") from None  # fmt: skip
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="pre-produced events (N)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes, one group")
    parser.add_argument("--rate", type=float, default=2000, help="live events/s (p99_ms)")
    parser.add_argument("--low-rate", type=float, default=1000, help="live events/s (p99_1k_ms)")
    parser.add_argument("--duration", type=float, default=60, help="each live phase, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, help="profile one worker's backlog phase")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    if args.profile is not None:
        if args.workers != 1:
            parser.error("--profile profiles one worker: use it with --workers 1")
        args.profile = args.profile.resolve()

    guarded(lambda: run(args), "the workers were stopped")


def guarded(body: Callable[[], None], stopped: str) -> None:
    """``body`` as the only benchmark run that resets the topics, with a final reset, its
    errors told in one line and SIGTERM or Ctrl-C turned into ``Interrupted`` (``stopped``
    says what its way out stopped), so every subprocess is stopped on the way out."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        # Once: a second Ctrl-C must not cut short the stopping of the subprocesses.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        with exclusive_run():
            try:
                body()
            finally:
                leave_empty()
    except KafkaException as exc:
        print(f"error: Kafka: {exc.args[0] if exc.args else exc}; is it up (`make up`)?",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Interrupted as exc:
        print(f"interrupted ({exc}); {stopped}", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
