"""Ingest benchmark: the HTTP gateway (`scorestream ingest`) beside a bare confluent-kafka
produce loop, the same events to the same topics with the same producer settings, one run.

Usage: python scripts/bench_ingest.py [--events N] [--batch B] [--clients C] [--seed S]
                                      [--profile FILE]

One run, in order:
  1. fresh topics: `scorestream reset` (as `make bench` does: it deletes EVERY Scorestream
     topic on the broker, so not while a demo runs; the run ends with another reset);
  2. N simulator events (200 reps, the log bench_replay.py caches under .local/bench/),
     each checked by the event contract and encoded as the gateway encodes it;
  3. baseline: a bare confluent-kafka Producer with the gateway's producer settings
     (idempotent, acks=all), every event to its crm.* topic keyed by rep_id, from the first
     produce to the last delivery report: produce_eps;
  4. the gateway: the real `scorestream ingest` on a free port, the same events posted as
     NDJSON batches of B by C concurrent clients; every answer must be 200 with the whole
     batch accepted; from the first request to the last answer: ingest_eps. Both counts
     are checked against the topics' offsets afterwards.

Progress goes to stderr; figures to stdout, the last line machine-readable:
`ingest_eps=… produce_eps=… ratio=…`. The gateway is stopped (SIGTERM, then SIGKILL after
30 s) however the script ends. --profile FILE runs the gateway under cProfile and writes
its stats to FILE (its event loop thread; the figures then include the profiler's cost).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
from bench_common import BENCH_DIR, ROOT, BenchError, machine, progress
from bench_kafka import watermarks
from bench_replay import make_log
from bench_worker import bench_env, guarded, reset
from bench_workers import SCORESTREAM, cpu_seconds, stop
from confluent_kafka import KafkaError, Message, Producer

from schemas import topics
from schemas.events import parse_event
from schemas.settings import Settings
from sinks.kafka_ingest import INGEST_PRODUCER
from sinks.wire import WireMessage, encode_event
from streams.runtime.connections import kafka_config

GATEWAY_LOG: Final = BENCH_DIR / "ingest.log"
READY_TIMEOUT_S: Final = 60.0
REQUEST_TIMEOUT_S: Final = 120.0
RATE_PER_S: Final = 100_000
"""The gateway's per-key rate at its settings' maximum: a whole run is a few hundred
requests, never throttled."""
PROGRESS_EVERY_S: Final = 2.0
PROFILED_GATEWAY: Final = """
import cProfile, signal, sys
from streams.cli.main import main

def leave(*_):
    sys.exit(0)

# uvicorn raises the SIGTERM it caught again after its shutdown: leave, dumping the stats.
signal.signal(signal.SIGTERM, leave)
out = sys.argv[1]
sys.argv = ["scorestream", *sys.argv[2:]]
profiler = cProfile.Profile()
try:
    profiler.runcall(main)
except SystemExit:
    pass
finally:
    profiler.dump_stats(out)
"""
"""`scorestream ingest` under cProfile (the event loop's thread), stats dumped when uvicorn
returns after SIGTERM."""


def load_events(events: int, seed: int) -> tuple[list[bytes], list[WireMessage]]:
    """The log's lines (what a client posts) and their wire form (what the gateway produces)."""
    path = make_log(events, seed)
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    return lines, [encode_event(parse_event(line)) for line in lines]


def produce_bare(settings: Settings, messages: Sequence[WireMessage]) -> tuple[float, float]:
    """Seconds for a bare producer to have every delivery report in, and the CPU seconds it
    used (this process: the loop and librdkafka's threads)."""
    producer = Producer(
        {**INGEST_PRODUCER, **kafka_config(settings), "client.id": "bench-ingest-bare"}
    )
    # Connected before the clock starts, as the gateway is once /healthz answers.
    producer.list_topics(timeout=10)
    delivered = failed = 0
    first_error: str | None = None

    def on_delivery(err: KafkaError | None, _: Message) -> None:
        nonlocal delivered, failed, first_error
        if err is None:
            delivered += 1
        else:
            failed += 1
            first_error = first_error or err.str()

    cpu = time.process_time()
    begin = last_report = time.perf_counter()
    for sent, message in enumerate(messages):
        while True:
            try:
                producer.produce(message.topic, value=message.value, key=message.key,
                                 on_delivery=on_delivery)  # fmt: skip
                break
            except BufferError:  # the queue is full: serve delivery reports, then again
                producer.poll(0.05)
        producer.poll(0)
        if time.perf_counter() - last_report >= PROGRESS_EVERY_S:
            last_report = time.perf_counter()
            progress(f"  bare producer: {sent:,} produced, {delivered:,} delivered")
    left = producer.flush(60)
    seconds, cpu = time.perf_counter() - begin, time.process_time() - cpu
    if left or failed or delivered != len(messages):
        raise BenchError(f"the bare producer: {delivered:,} of {len(messages):,} delivered,"
                         f" {failed:,} failed ({first_error}), {left:,} left")  # fmt: skip
    return seconds, cpu


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Gateway:
    url: str
    proc: subprocess.Popen[bytes]


@contextmanager
def running_gateway(key: str, profile: Path | None) -> Iterator[Gateway]:
    """`scorestream ingest` on a free port, ready. Stopped however the block ends."""
    port = free_port()
    env = {**bench_env(), "SCORESTREAM_INGEST_KEYS": key,
           "SCORESTREAM_INGEST_RATE_PER_S": str(RATE_PER_S)}  # fmt: skip
    args = ["ingest", "--port", str(port)]
    command = (
        [SCORESTREAM, *args]
        if profile is None
        else [sys.executable, "-c", PROFILED_GATEWAY, str(profile), *args]
    )
    url = f"http://127.0.0.1:{port}"
    with GATEWAY_LOG.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                raise BenchError(f"the gateway exited with {proc.returncode}; see {GATEWAY_LOG}")
            if time.monotonic() > deadline:
                raise BenchError(f"the gateway was not healthy within {READY_TIMEOUT_S:g}s;"
                                 f" see {GATEWAY_LOG}")  # fmt: skip
            time.sleep(0.2)
        yield Gateway(url, proc)
    finally:
        stop(proc, "the gateway")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def ndjson_batches(lines: Sequence[bytes], batch: int) -> list[tuple[int, bytes]]:
    """Each body with its number of events."""
    return [
        (len(lines[i : i + batch]), b"\n".join(lines[i : i + batch]) + b"\n")
        for i in range(0, len(lines), batch)
    ]


async def post_all(url: str, key: str, bodies: Sequence[tuple[int, bytes]], clients: int) -> float:
    """Seconds for ``clients`` concurrent clients to have every body accepted whole."""
    pending = iter(bodies)
    accepted = 0
    headers = {"authorization": f"Bearer {key}", "content-type": "application/x-ndjson"}

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=url, headers=headers,
                                     timeout=REQUEST_TIMEOUT_S) as http:  # fmt: skip
            for size, body in pending:
                answer = await http.post("/v1/events", content=body)
                got = answer.json() if answer.status_code == 200 else None
                if got is None or got.get("accepted") != size or got.get("rejected") != []:
                    raise BenchError(f"the gateway answered {answer.status_code}"
                                     f" {answer.text[:300]!r} to a batch of {size}")  # fmt: skip
                accepted += size

    async def report() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            progress(f"  gateway: {accepted:,} events accepted")

    begin = time.perf_counter()
    reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*(client() for _ in range(clients)))
    finally:
        reporter.cancel()
    return time.perf_counter() - begin


def on_topics(settings: Settings) -> int:
    return sum(high - low for low, high in watermarks(settings, topics.CRM_INPUTS).values())


def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"kafka: {settings.kafka_bootstrap}, {settings.partitions} partitions a topic;"
          f" batches of {args.batch}, {args.clients} clients")  # fmt: skip

    progress("1/4 reset: fresh topics")
    reset()
    progress(f"2/4 {args.events:,} simulator events")
    lines, messages = load_events(args.events, args.seed)
    bodies = ndjson_batches(lines, args.batch)
    size_mb = sum(len(body) for _, body in bodies) / 1e6
    print(f"events: {len(lines):,} ({size_mb:.0f} MB of NDJSON in {len(bodies):,} batches)")

    progress("3/4 baseline: a bare confluent-kafka producer")
    bare_s, bare_cpu = produce_bare(settings, messages)
    produce_eps = len(messages) / bare_s
    print(f"bare producer: {len(messages):,} events in {bare_s:.2f} s = {produce_eps:,.0f}"
          f" events/s (every delivery report in); CPU {bare_cpu:.1f} s ="
          f" {bare_cpu / len(messages) * 1e6:.1f} µs an event")  # fmt: skip
    before = on_topics(settings)

    progress(f"4/4 the gateway: {len(bodies):,} NDJSON batches from {args.clients} clients")
    key = secrets.token_urlsafe(32)
    with running_gateway(key, args.profile) as gateway:
        cpu = cpu_seconds([gateway.proc])
        client_cpu = time.process_time()
        gateway_s = asyncio.run(post_all(gateway.url, key, bodies, args.clients))
        cpu = cpu_seconds([gateway.proc]) - cpu
        client_cpu = time.process_time() - client_cpu
    ingest_eps = len(lines) / gateway_s
    stored = on_topics(settings) - before
    if before != len(messages) or stored != len(lines):
        raise BenchError(
            f"the topics hold {before:,} events from the bare producer and {stored:,} from"
            f" the gateway; {len(lines):,} each were sent"
        )
    print(f"gateway: {len(lines):,} events in {gateway_s:.2f} s = {ingest_eps:,.0f} events/s"
          " accepted (every answer 200, whole batch accepted; counted on the topics)")  # fmt: skip
    print(f"  gateway CPU {cpu:.1f} s = {cpu / len(lines) * 1e6:.1f} µs an event"
          f" ({cpu / gateway_s:.2f} of a core); the posting clients' CPU {client_cpu:.1f} s,"
          f" on the same {os.cpu_count()} cores")  # fmt: skip
    if args.profile is not None:
        progress(f"profile: {args.profile} (python -m pstats {args.profile})")
    print(f"ingest_eps={ingest_eps:.1f} produce_eps={produce_eps:.1f}"
          f" ratio={ingest_eps / produce_eps:.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events (N)")
    parser.add_argument("--batch", type=int, default=500, help="events a request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, help="cProfile stats of the gateway to FILE")
    args = parser.parse_args()
    if min(args.events, args.batch, args.clients) < 1:
        parser.error("--events, --batch and --clients must be 1 or more")
    if args.profile is not None:
        args.profile = args.profile.resolve()

    guarded(lambda: run(args), "the gateway was stopped")


if __name__ == "__main__":
    main()
