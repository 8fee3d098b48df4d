"""Worker benchmark: `scorestream worker` end to end (Kafka in, Redis out) beside a bare consumer.

Usage: python scripts/bench_worker.py [--events N] [--rate R] [--duration S] [--seed S]
                                      [--profile FILE]

One run, in order:
  1. fresh state: `scorestream reset --yes --app-id bench` with the Redis prefix `bench`
     (this deletes EVERY Scorestream topic on the broker, as reset does: not while a demo runs);
  2. N simulated events (200 reps, fixed seed and end date) pre-produced to the crm.* topics;
  3. bare baseline: an aiokafka consumer, no group, reads and orjson-decodes all of them;
  4. the worker (`--clock event`, the default scorecard with an allowed lateness that spans
     the whole history: on the event clock one topic's backlog runs ahead of another's,
     and with the default 7 days a third of a 155-day history was dead-lettered as too
     late instead of folded) from process start until its /metrics say every input
     message was handled: events_in >= N and consumer lag 0 on every input partition, and
     then the last Redis write done: a batch's cards are written when the batch ends,
     which observes the latency histogram, so the run ends at the first scrape whose
     histogram count then stays put for SETTLE_S (team cards follow through the internal
     team topic and are not waited for);
  5. latency: with the same worker running, `scorestream simulate --rate R --duration S`
     live; the worker's event_to_redis histogram (Kafka record timestamp -> scorecard
     flushed to Redis), before minus after, gives bucket-interpolated p50/p95/p99;
  6. the worker's peak memory (VmHWM), its state on disk per rep, and its changelog topics.

Progress goes to stderr; figures to stdout, one per line, the last one machine-readable:
`worker_eps=<float> bare_eps=<float> ratio=<float> p99_ms=<float>`. The worker is stopped
(SIGTERM, then SIGKILL after 30 s) however the script ends.

--profile FILE runs the worker under pyinstrument and writes the profile of its start and
the pre-produced phase (step 4) to FILE (call tree) and FILE.flat.txt (self time per
function); the throughput figures of that run include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Final

import orjson
import yaml
from bench_common import BENCH_DIR, ROOT, SIMULATED_ORG, backfill_days, machine
from confluent_kafka import KafkaException, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from schemas import topics
from schemas.scorecard_definition import MAX_LATENESS_DAYS, load_definition
from schemas.settings import Settings
from streams.connections import aiokafka_kwargs, kafka_consumer
from streams.topic_admin import delete_consumer_group

APP_ID: Final = "bench"
REDIS_PREFIX: Final = "bench"
WEB_PORT: Final = 6199
DATA_DIR: Final = BENCH_DIR / "worker"
WORKER_LOG: Final = BENCH_DIR / "worker.log"
SCORECARD: Final = BENCH_DIR / "scorecard.yaml"
BACKFILL_END: Final = "2026-11-01"
SCRAPE_EVERY_S: Final = 0.2
WARM_UP_S: Final = 2.0
"""Live seconds before the measured ones: the first live event moves the event clock to
today, which scores every rep again once; that pause is start-up, not latency."""
SETTLE_S: Final = 1.0
"""No Redis write for this long after the lag reached 0: the last cards are written (the
worker writes every OUTPUT_INTERVAL_S, 50 ms; a write of a big batch takes longer)."""
STOP_GRACE_S: Final = 30.0
SCORESTREAM: Final = str(Path(sys.executable).parent / "scorestream")
_STARTED: Final = time.monotonic()

PROFILED_WORKER: Final = """
import os, signal, sys
from pyinstrument import Profiler
from streams.cli.main import main

out = sys.argv[1]
sys.argv = ["scorestream", *sys.argv[2:]]
profiler = Profiler(interval=0.005, async_mode="disabled")

def dump(*_):
    if profiler.is_running:
        session = profiler.stop()
        session.save(out + ".tmp")
        os.replace(out + ".tmp", out)

signal.signal(signal.SIGHUP, dump)  # mode.Worker takes SIGUSR1 and SIGUSR2 (pdb!)
profiler.start()
main()
"""
"""``scorestream worker`` under pyinstrument (main thread: the agents, tables and web pages;
faust runs the Kafka consumer's I/O in a thread of its own). SIGHUP stops the profiler and
saves the session, rendered later by ``render_profile`` so the worker is not held up."""


class BenchError(Exception):
    """The run cannot go on; the text says what happened and where to look."""


class Interrupted(Exception):
    """SIGTERM or SIGINT: stop the worker and leave."""


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def bench_env() -> dict[str, str]:
    return {
        **os.environ,
        "SCORESTREAM_REDIS_PREFIX": REDIS_PREFIX,
        "SCORESTREAM_LOG_FORMAT": "json",
    }


def scorestream(*args: str, capture: bool = False) -> str:
    """Run a scorestream command to completion; its stdout when ``capture``."""
    done = subprocess.run(
        [SCORESTREAM, *args],
        cwd=ROOT,
        env=bench_env(),
        check=False,
        stdout=subprocess.PIPE if capture else sys.stderr,
        stderr=sys.stderr,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"`scorestream {' '.join(args)}` exited with {done.returncode}")
    return done.stdout if capture else ""


# --- Kafka: what is on the input topics --------------------------------------------------


def watermarks(settings: Settings, names: Sequence[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) offsets of every partition of ``names`` that exists."""
    consumer = kafka_consumer(
        settings, {"group.id": f"{APP_ID}-watermarks", "enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        out: dict[tuple[str, int], tuple[int, int]] = {}
        for name in names:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            for partition in topic.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, partition), timeout=10
                )
                out[(name, partition)] = (low, high)
        return out
    finally:
        consumer.close()


def input_messages(settings: Settings) -> int:
    return sum(high - low for low, high in watermarks(settings, topics.CRM_INPUTS).values())


@dataclass(frozen=True)
class InputGuard:
    """Fails the run when the input topics lose messages under it.

    Tests (System.fresh) and `scorestream reset` delete and re-create every Scorestream
    topic; on a shared broker that can happen in the middle of a run, and the worker
    would then wait forever for messages that are gone.
    """

    settings: Settings
    expected: int

    def check(self) -> None:
        now = input_messages(self.settings)
        if now < self.expected:
            raise BenchError(
                f"the input topics hold {now:,} messages, fewer than the {self.expected:,}"
                " of this run: someone deleted or re-created them (a test, `scorestream"
                " reset`); run the benchmark again while nobody else uses the broker"
            )


def changelog_topics(settings: Settings) -> list[str]:
    consumer = kafka_consumer(settings, {"group.id": f"{APP_ID}-meta"})
    try:
        names = consumer.list_topics(timeout=10).topics
    finally:
        consumer.close()
    return sorted(n for n in names if n.startswith(f"{APP_ID}-") and n.endswith("-changelog"))


# --- step 3: the bare consumer -----------------------------------------------------------


async def bare_consume(settings: Settings, ranges: dict[tuple[str, int], tuple[int, int]]) -> int:
    """Read every message in ``ranges`` with aiokafka and orjson-decode it; returns the count."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AioTopicPartition

    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        ends = {
            AioTopicPartition(t, p): high for (t, p), (low, high) in ranges.items() if high > low
        }
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        count = 0
        while ends:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batches.items():
                for record in records:
                    orjson.loads(record.value)
                count += len(records)
                if records and records[-1].offset + 1 >= ends.get(tp, 0):
                    ends.pop(tp, None)
        return count
    finally:
        await consumer.stop()


# --- the worker's /metrics ---------------------------------------------------------------


@dataclass
class Scrape:
    events_in: float = 0.0
    lag: dict[tuple[str, str], float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)
    """Upper bound (le) -> cumulative count of scorestream_event_to_redis_seconds."""
    latency_sum: float = 0.0
    latency_count: float = 0.0
    dead_letters: dict[str, float] = field(default_factory=dict)
    duplicates: float = 0.0
    scorecards: float = 0.0
    batches: float = 0.0
    batch_messages: float = 0.0
    batch_reps: float = 0.0
    histograms: dict[str, dict[float, float]] = field(default_factory=dict)
    """Every histogram's buckets: name (without _bucket) -> le -> cumulative count."""

    @property
    def drained(self) -> bool:
        return bool(self.lag) and max(self.lag.values()) == 0


def faust_floor(settings: Settings, messages: int) -> dict[str, float] | None:
    """Run scripts/faust_floor_app.py until it has read ``messages``; None if it failed."""
    out = BENCH_DIR / "faust_floor.json"
    out.unlink(missing_ok=True)
    # "bench-*" topics (faust's leader topic) go with the next run's reset; the group now.
    app_id = f"{APP_ID}-floor"
    delete_consumer_group(settings, app_id)
    env = {
        **bench_env(), "FLOOR_APP_ID": app_id,
        "FLOOR_MESSAGES": str(messages), "FLOOR_OUT": str(out),
        "FLOOR_DATADIR": str(BENCH_DIR / "floor"), "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    cmd = [sys.executable, str(ROOT / "scripts" / "faust_floor_app.py"), "worker", "-l", "warn"]
    with (BENCH_DIR / "faust_floor.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=max(120.0, messages / 1000))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not out.exists():
        progress(f"the faust floor did not finish: see {BENCH_DIR / 'faust_floor.log'}")
        return None
    return dict(orjson.loads(out.read_bytes()))


def scrape(port: int) -> Scrape | None:
    """The worker's metrics, or None while it does not answer yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    out = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name.endswith("_bucket") and "le" in labels:
                hist = out.histograms.setdefault(name.removesuffix("_bucket"), {})
                hist[float(labels["le"])] = value
            if name == "scorestream_events_in_total":
                out.events_in += value
            elif name == "scorestream_consumer_lag":
                out.lag[(labels["topic"], labels["partition"])] = value
            elif name == "scorestream_event_to_redis_seconds_bucket":
                out.buckets[float(labels["le"])] = value
            elif name == "scorestream_event_to_redis_seconds_sum":
                out.latency_sum = value
            elif name == "scorestream_event_to_redis_seconds_count":
                out.latency_count = value
            elif name == "scorestream_dead_letters_total":
                out.dead_letters[labels["reason"]] = value
            elif name == "scorestream_duplicates_total":
                out.duplicates = value
            elif name == "scorestream_scorecards_written_total":
                out.scorecards = value
            elif name == "scorestream_batch_messages_count":
                out.batches = value
            elif name == "scorestream_batch_messages_sum":
                out.batch_messages = value
            elif name == "scorestream_batch_reps_sum":
                out.batch_reps = value
    return out


@dataclass(frozen=True)
class Drained:
    started_s: float | None
    """Seconds from the start of the wait to the first scrape that counted an event."""
    done_s: float
    """Seconds from the start of the wait to the first scrape with everything handled."""
    scrape: Scrape


def wait_drained(
    proc: subprocess.Popen[bytes], target: float, timeout_s: float, guard: InputGuard
) -> Drained:
    """Poll /metrics until ``target`` input messages are handled and written to Redis."""
    begin = time.monotonic()
    first: float | None = None
    last: Scrape | None = None
    last_report = begin
    while True:
        if proc.poll() is not None:
            raise BenchError(f"the worker exited with {proc.returncode}; see {WORKER_LOG}")
        now = time.monotonic()
        current = scrape(WEB_PORT)
        if current is not None:
            last = current
            if first is None and current.events_in > 0:
                first = now - begin
            if current.events_in >= target and current.drained:
                written_at, written = settle(proc, now, current)
                return Drained(first, written_at - begin, written)
        if now - last_report >= 5:
            last_report = now
            seen = "no answer yet" if last is None else f"{last.events_in:,.0f}/{target:,.0f}"
            progress(f"  worker: {seen} messages, lag {sum(last.lag.values()) if last else '?'}")
            guard.check()
        if now - begin > timeout_s:
            raise BenchError(f"the worker did not drain in {timeout_s:g}s; see {WORKER_LOG}")
        time.sleep(SCRAPE_EVERY_S)


def settle(proc: subprocess.Popen[bytes], at: float, scraped: Scrape) -> tuple[float, Scrape]:
    """When the last buffered cards reached Redis: the first scrape after which the latency
    histogram (observed after each Redis write) does not move for SETTLE_S."""
    since, latest = at, scraped
    while time.monotonic() - since < SETTLE_S:
        time.sleep(SCRAPE_EVERY_S)
        current = scrape(WEB_PORT)
        if proc.poll() is not None or current is None:
            raise BenchError(f"the worker stopped answering; see {WORKER_LOG}")
        if current.latency_count != latest.latency_count:
            since, latest = time.monotonic(), current
    return since, latest


def write_scorecard(history_days: int) -> int:
    """The default scorecard, keeping ``history_days`` of late events (the most it allows);
    returns the lateness written."""
    definition = load_definition()
    lateness = min(max(history_days, definition.allowed_lateness_days), MAX_LATENESS_DAYS)
    data = definition.model_copy(update={"allowed_lateness_days": lateness}).model_dump(mode="json")
    SCORECARD.write_text(yaml.safe_dump(data, sort_keys=False))
    load_definition(SCORECARD)  # still valid
    return lateness


@contextmanager
def running_worker(session: Path | None) -> Iterator[subprocess.Popen[bytes]]:
    """The worker as a subprocess, stopped with SIGTERM (SIGKILL after 30 s) on the way out.

    With ``session``, under pyinstrument, saving its session there on SIGHUP."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", WEB_PORT)) == 0:
            raise BenchError(f"port {WEB_PORT} is taken (a leftover bench worker?)")
    worker_args = [
        "worker", "--clock", "event", "--app-id", APP_ID, "--data-dir", str(DATA_DIR),
        "--web-port", str(WEB_PORT), "--scorecard", str(SCORECARD),
    ]  # fmt: skip
    command = (
        [SCORESTREAM, *worker_args]
        if session is None
        else [sys.executable, "-c", PROFILED_WORKER, str(session), *worker_args]
    )
    log: IO[bytes] = WORKER_LOG.open("wb")
    proc = subprocess.Popen(
        command, cwd=ROOT, env=bench_env(), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            progress(f"stopping the worker (pid {proc.pid})")
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                progress(f"the worker ignored SIGTERM for {STOP_GRACE_S:g}s: killing it")
                proc.kill()
                proc.wait()
        log.close()


def save_profile(proc: subprocess.Popen[bytes], session: Path) -> None:
    session.unlink(missing_ok=True)
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 300
    while not session.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise BenchError(f"the profiled worker saved no {session}; see {WORKER_LOG}")
        time.sleep(0.2)


def render_profile(session_file: Path, out: Path) -> None:
    """The saved session as a call tree (``out``) and as self time per function (.flat.txt)."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.load(session_file)
    out.write_text(ConsoleRenderer(unicode=True, short_mode=False).render(session))
    flat = ConsoleRenderer(unicode=True, flat=True, flat_time="self").render(session)
    out.with_name(out.name + ".flat.txt").write_text(flat)


@dataclass(frozen=True)
class Live:
    messages: int
    seconds: float
    drained: Drained


def live_phase(
    worker: subprocess.Popen[bytes],
    settings: Settings,
    rate: float,
    duration: float,
    seed: int,
    org_seed: int,
) -> Live:
    """`scorestream simulate --rate --duration` against the running worker, until drained;
    new events (``seed``) of the pre-produced org (``org_seed``): no rep changes team."""
    before = scrape(WEB_PORT)
    if before is None:
        raise BenchError(f"the worker stopped answering; see {WORKER_LOG}")
    before_messages = input_messages(settings)
    begin = time.perf_counter()
    scorestream(
        "simulate", "--rate", f"{rate:g}", "--duration", f"{duration:g}", "--seed", str(seed),
        "--org-seed", str(org_seed), *SIMULATED_ORG, "--json", "--no-progress", capture=True,
    )  # fmt: skip
    seconds = time.perf_counter() - begin
    messages = input_messages(settings) - before_messages
    guard = InputGuard(settings, before_messages + messages)
    drained = wait_drained(worker, before.events_in + messages, max(300.0, messages / 50), guard)
    return Live(messages, seconds, drained)


# --- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantile:
    seconds: float
    capped: bool
    """The quantile fell in the +Inf bucket: ``seconds`` is only the largest finite bound."""

    def __str__(self) -> str:
        return (
            f">{self.seconds * 1000:,.0f} ms" if self.capped else f"{self.seconds * 1000:,.1f} ms"
        )


def histogram_delta(before: Scrape, after: Scrape) -> list[tuple[float, float]]:
    """(le, cumulative count) of the observations made between the two scrapes."""
    return [(le, after.buckets[le] - before.buckets.get(le, 0.0)) for le in sorted(after.buckets)]


def per_bucket(buckets: list[tuple[float, float]]) -> str:
    """Non-cumulative counts, ``le: n`` per bucket."""
    out, below = [], 0.0
    for le, cumulative in buckets:
        out.append(f"{'+Inf' if math.isinf(le) else f'{le:g}'}: {cumulative - below:,.0f}")
        below = cumulative
    return ", ".join(out)


def quantile(buckets: list[tuple[float, float]], q: float) -> Quantile | None:
    """Linear interpolation inside the bucket holding the q-th observation, as Prometheus's
    histogram_quantile does: exact only at the bucket bounds."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(le):
                return Quantile(lower, capped=True)
            inside = cumulative - below
            share = (rank - below) / inside if inside > 0 else 1.0
            return Quantile(lower + (le - lower) * share, capped=False)
        lower, below = le, cumulative
    return Quantile(lower, capped=True)


def vm_status(pid: int) -> dict[str, float]:
    """VmHWM and VmRSS of a process, in MB."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(rest.split()[0]) / 1024  # kB
    except OSError:
        pass
    return out


def disk_usage(path: Path, suffix: str = "") -> int:
    """Bytes on disk (allocated blocks) of the files under ``path`` whose name ends in suffix."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            if name.endswith(suffix):
                with suppress(OSError):
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


def local_kafka_data() -> Path | None:
    """The local broker's log.dirs (scripts/kafka.sh), if this machine runs it."""
    config = ROOT / ".local" / "kafka" / "server.properties"
    try:
        for line in config.read_text().splitlines():
            if line.startswith("log.dirs="):
                return Path(line.split("=", 1)[1].strip())
    except OSError:
        pass
    fallback = ROOT / ".local" / "kafka" / "data"
    return fallback if fallback.is_dir() else None


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


# --- the run -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    n: int = args.events
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(
        f"kafka: {settings.kafka_bootstrap}, {settings.partitions} partitions a topic;"
        f" redis prefix: {REDIS_PREFIX}"
    )

    progress(f"1/6 reset: app-id {APP_ID}, data dir {DATA_DIR.relative_to(ROOT)}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 5):
        try:
            scorestream("reset", "--yes", "--app-id", APP_ID, "--data-dir", str(DATA_DIR))
            break
        except BenchError:
            # A worker of an interrupted run keeps the group "not empty" until its session
            # times out on the broker.
            if attempt == 4:
                raise
            progress("reset failed (a previous bench worker's group?); again in 20 s")
            time.sleep(20)

    days = backfill_days(n)
    progress(
        f"2/6 producing {n:,} simulated events ({days} days to {BACKFILL_END}, seed {args.seed})"
    )
    begin = time.perf_counter()
    summary = json.loads(
        scorestream(
            "simulate", "--days", str(days), "--end", BACKFILL_END, "--seed", str(args.seed),
            *SIMULATED_ORG, "--limit", str(n), "--malformed-share", "0", "--json",
            "--no-progress", capture=True,
        )
    )  # fmt: skip
    produce_s = time.perf_counter() - begin
    ranges = watermarks(settings, topics.CRM_INPUTS)
    produced = sum(high - low for low, high in ranges.values())
    reps = int(summary.get("reps", 0))
    print(
        f"produced: {produced:,} messages on {len(topics.CRM_INPUTS)} input topics"
        f" in {produce_s:.1f} s"
        f" ({summary.get('duplicates', 0):,} redelivered, {summary.get('late', 0):,} late,"
        f" {reps} reps)"
    )
    if produced < n:
        progress(f"note: {produced:,} messages on the topics, fewer than --events {n:,}")

    progress("3/6 bare baseline: aiokafka, no group, orjson.loads each value")
    begin = time.perf_counter()
    bare_count = asyncio.run(bare_consume(settings, ranges))
    bare_s = time.perf_counter() - begin
    bare_eps = bare_count / bare_s
    print(f"bare consumer: {bare_count:,} messages in {bare_s:.2f} s = {bare_eps:,.0f} msg/s")
    progress("3b/6 faust floor: a faust agent that only decodes (no tables, no output)")
    floor = faust_floor(settings, produced)
    if floor is not None:
        floor_eps = floor["messages"] / floor["seconds"]
        print(
            f"faust floor: {floor['messages']:,} messages in {floor['seconds']:.2f} s"
            f" (first to last) = {floor_eps:,.0f} msg/s, {floor_eps / bare_eps:.3f} of bare:"
            " the ceiling of any faust worker here"
        )

    lateness = write_scorecard(days)
    progress(
        f"4/6 the worker (allowed lateness {lateness} days), from process start until every"
        " message is handled"
    )
    session = None if args.profile is None else args.profile.with_suffix(".pyisession")
    with running_worker(session) as worker:
        guard = InputGuard(settings, produced)
        drained = wait_drained(worker, produced, max(600.0, produced / 50), guard)
        catch_up = drained.scrape
        worker_eps = produced / drained.done_s
        startup = drained.started_s if drained.started_s is not None else float("nan")
        steady_eps = produced / max(drained.done_s - startup, 1e-9)
        hwm_drain = vm_status(worker.pid).get("VmHWM", float("nan"))
        state_bytes = disk_usage(DATA_DIR)
        if session is not None:
            save_profile(worker, session)
            progress(f"profile session saved to {session}")
        note = " (under pyinstrument)" if args.profile is not None else ""
        print(
            f"worker: {produced:,} messages in {drained.done_s:.2f} s from process start"
            f" = {worker_eps:,.0f} msg/s{note}"
        )
        print(
            f"worker startup (process start to first message counted): {startup:.2f} s;"
            f" after it {steady_eps:,.0f} msg/s"
        )
        dead = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(catch_up.dead_letters.items()))
        print(
            f"worker counted: {catch_up.duplicates:,.0f} duplicates,"
            f" dead letters: {dead or 'none'},"
            f" {catch_up.scorecards:,.0f} scorecards written"
        )
        if catch_up.batches:
            print(
                f"worker batches: {catch_up.batches:,.0f}, on average"
                f" {catch_up.batch_messages / catch_up.batches:,.1f} messages"
                f" and {catch_up.batch_reps / catch_up.batches:,.1f} reps scored"
            )
        print(f"worker peak memory after the pre-produced phase: {hwm_drain:,.0f} MB (VmHWM)")

        warm_s = min(WARM_UP_S, args.duration)
        progress(f"5/6 live: {warm_s:g} s warm-up, then simulate --rate {args.rate:g}"
                 f" --duration {args.duration:g}")  # fmt: skip
        warm = live_phase(worker, settings, args.rate, warm_s, args.seed + 2, args.seed)
        before = warm.drained.scrape
        measured = live_phase(worker, settings, args.rate, args.duration, args.seed + 1, args.seed)
        live, live_s, drained_live = measured.messages, measured.seconds, measured.drained
        after = drained_live.scrape
        buckets = histogram_delta(before, after)
        observed = buckets[-1][1] if buckets else 0.0
        print(
            f"live: {live:,} messages in {live_s:.1f} s = {live / live_s:,.0f} msg/s offered;"
            f" worker drained {drained_live.done_s:.1f} s after the simulator stopped"
            f" (after a {warm_s:g} s warm-up of {warm.messages:,} messages, not counted: the"
            " event clock jumps to today and every rep is scored again once)"
        )
        if live / live_s > steady_eps:
            print(
                f"note: {live / live_s:,.0f} msg/s offered is more than the worker handles"
                f" ({steady_eps:,.0f} msg/s above): the latencies below are mostly queueing;"
                " a RATE under the worker's rate measures the path itself"
            )
        quantiles = {q: quantile(buckets, q) for q in (0.5, 0.95, 0.99)}
        mean = (after.latency_sum - before.latency_sum) / observed if observed else float("nan")
        for q, value in quantiles.items():
            print(
                f"latency p{round(q * 100)} (Kafka record timestamp -> Redis flush,"
                f" bucket-interpolated): {value if value is not None else 'n/a'}"
            )
        print(f"latency mean (exact, from the histogram's sum): {mean * 1000:,.1f} ms"
              f" over {observed:,.0f} scored events")  # fmt: skip
        print(f"latency histogram (upper bound s: events in the bucket): {per_bucket(buckets)}")
        for name, what in (
            ("scorestream_arrival_seconds", "record timestamp -> worker holds it"),
            ("scorestream_batch_seconds", "handling one batch"),
            ("scorestream_batch_messages", "messages per batch"),
        ):
            part = [(le, after.histograms.get(name, {}).get(le, 0.0)
                     - before.histograms.get(name, {}).get(le, 0.0))
                    for le in sorted(after.histograms.get(name, {}))]  # fmt: skip
            shown = ", ".join(f"p{round(q * 100)} {quantile(part, q)}" for q in (0.5, 0.99))
            print(f"{what}: {shown.replace(' ms', '') if 'messages' in name else shown}")

        progress("6/6 memory and state")
        hwm = vm_status(worker.pid).get("VmHWM", float("nan"))
        state_end = disk_usage(DATA_DIR)
        print(f"worker peak memory: {hwm:,.0f} MB (VmHWM, whole run)")
        per_rep = f" = {state_end / reps / 1e3:,.1f} kB per rep" if reps else ""
        print(
            f"worker state on disk: {mb(state_end)} for {reps} reps{per_rep}"
            f" ({mb(state_bytes)} after the pre-produced phase)"
        )
        changelogs = changelog_topics(settings)
        records = sum(h - lo for lo, h in watermarks(settings, changelogs).values())
        kafka_data = local_kafka_data()
        on_disk = (
            sum(disk_usage(d, ".log") for t in changelogs for d in kafka_data.glob(f"{t}-*"))
            if kafka_data is not None
            else None
        )
        where = (
            f", {mb(on_disk)} of log segments on the local broker" if on_disk is not None else ""
        )
        total_in = produced + warm.messages + live
        print(
            f"changelog topics: {len(changelogs)}, {records:,} records"
            f" = {records / max(total_in, 1):.2f} per input message{where}"
        )

    if session is not None:
        progress(f"rendering the profile to {args.profile} and {args.profile}.flat.txt")
        render_profile(session, args.profile)
    p99 = quantiles[0.99]
    # Above the largest finite bucket the histogram only says "more than": inf, not a number.
    p99_ms = float("nan") if p99 is None else math.inf if p99.capped else p99.seconds * 1000
    print(
        f"worker_eps={worker_eps:.1f} bare_eps={bare_eps:.1f} ratio={worker_eps / bare_eps:.4f}"
        f" p99_ms={p99_ms:.1f}"
    )


@contextmanager
def exclusive_run() -> Iterator[None]:
    """One run at a time: two would share the app id, the topics and the web port."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with (BENCH_DIR / "bench_worker.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise BenchError(f"another bench_worker.py run (pid {holder}) is in progress") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="pre-produced events (N)")
    parser.add_argument("--rate", type=float, default=2000, help="live events per second")
    parser.add_argument("--duration", type=float, default=60, help="live phase, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, help="profile the worker's pre-produced phase")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile = args.profile.resolve()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        # Once: a second Ctrl-C must not cut short the stopping of the worker.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        with exclusive_run():
            run(args)
    except KafkaException as exc:
        print(f"error: Kafka: {exc.args[0] if exc.args else exc}; is it up (`make up`)?",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Interrupted as exc:
        print(f"interrupted ({exc}); the worker was stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
