"""The worker through outages, on the real servers: Redis stopped while events stream in
and back empty, Redis full (refusing writes), Redis restarted empty with no new events, a
slow Redis, and Kafka stopped mid-stream. Afterwards the stream equals the replay, KPI for
KPI, and nothing valid is lost.

Each test runs the worker against a server of its own, so it can stop, restart and slow it
without disturbing anyone else.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from schemas.settings import Settings
from tests.integration.test_worker_end_to_end import assert_same, expected_cards, simulated_log
from tests.integration.worker_harness import System, produce_lines, wait_until
from tests.kafka_server import ThrowawayKafka
from tests.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

OUTAGE_S = 30.0


@pytest.fixture(name="own_redis")
def fixture_own_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="own_kafka")
def fixture_own_kafka(tmp_path: Path) -> Iterator[ThrowawayKafka]:
    server = ThrowawayKafka(tmp_path / "kafka")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def health(system: System) -> tuple[int, str]:
    url = f"http://127.0.0.1:{system.web_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_redis_stopped_while_events_stream_in_then_back_empty(
    settings: Settings, tmp_path: Path, own_redis: ThrowawayRedis
) -> None:
    """Redis goes away for 30 s mid-stream: the worker waits (degraded, never exits), and when
    Redis comes back empty it writes every card again: the cards equal the replay."""
    system = System.fresh(settings.model_copy(update={"redis_url": own_redis.url}), tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=8)
    half = len(lines) // 2
    want, _ = expected_cards(lines)
    produce_lines(settings.kafka_bootstrap, lines[:half])
    with system.worker() as worker:
        wait_until(lambda: system.cards() != {}, 120, "the first cards", system.worker_logs)
        own_redis.stop()
        produce_lines(settings.kafka_bootstrap, lines[half:])
        wait_until(lambda: health(system)[0] == 503, 30, "/health to say degraded")
        assert '"degraded"' in health(system)[1]
        time.sleep(OUTAGE_S)
        assert worker.poll() is None, "the worker exited while Redis was away"
        own_redis.start()  # empty: no persistence
        wait_until(lambda: assert_same(system.cards(), want), 120,
                   "every card again, equal to the replay", system.worker_logs)  # fmt: skip
        wait_until(lambda: health(system)[0] == 200, 30, "/health to say ready again")
        # The marker check backs off like any call (at most 5 s), then notices the loss.
        wait_until(lambda: "redis_lost_data" in system.worker_logs(tail=None), 30,
                   "the worker to notice Redis came back empty")  # fmt: skip
        wait_until(lambda: assert_same(system.cards(), want), 60, "every card after the rewrite")
    assert "redis.retry" in system.worker_logs(tail=None)


def test_a_full_redis_is_waited_for_and_loses_nothing(
    settings: Settings, tmp_path: Path, own_redis: ThrowawayRedis
) -> None:
    """Redis reaches ``maxmemory`` (no eviction) mid-stream, so it refuses every write, for
    30 s: the worker waits (degraded, never exits), and once memory is freed the cards equal
    the replay. (A refusal that raised left the batch in hand unwritten and unacked while the
    worker read on: its events were missing from the cards until a restart.)"""
    system = System.fresh(settings.model_copy(update={"redis_url": own_redis.url}), tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=12)
    half = len(lines) // 2
    want, _ = expected_cards(lines)
    admin = own_redis.client()
    produce_lines(settings.kafka_bootstrap, lines[:half])
    with system.worker() as worker:
        wait_until(lambda: system.cards() != {}, 120, "the first cards", system.worker_logs)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)
        produce_lines(settings.kafka_bootstrap, lines[half:])
        wait_until(lambda: health(system)[0] == 503, 30, "/health to say degraded")
        time.sleep(OUTAGE_S)
        assert worker.poll() is None, "the worker exited while Redis was full"
        admin.config_set("maxmemory", 0)
        wait_until(lambda: assert_same(system.cards(), want), 120,
                   "every card equal to the replay", system.worker_logs)  # fmt: skip
        wait_until(lambda: health(system)[0] == 200, 30, "/health to say ready again")
    assert "maxmemory" in system.worker_logs(tail=None)


def test_redis_restarted_empty_is_written_again_without_new_events(
    settings: Settings, tmp_path: Path, own_redis: ThrowawayRedis
) -> None:
    """After the log drained, Redis restarts empty and no event follows: within 60 s every
    rep's cards, boards and team cards are back (quiet reps too)."""
    system = System.fresh(settings.model_copy(update={"redis_url": own_redis.url}), tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=9)
    want, _ = expected_cards(lines)
    produce_lines(settings.kafka_bootstrap, lines)
    with system.worker():
        wait_until(lambda: assert_same(system.cards(), want), 120, "the replay's cards",
                   system.worker_logs)  # fmt: skip
        boards_before = _boards(own_redis.client(), system.prefix)
        own_redis.stop()
        own_redis.start()
        assert system.cards() == {}
        wait_until(lambda: assert_same(system.cards(), want), 60,
                   "every card back with no new event", system.worker_logs)  # fmt: skip
        wait_until(lambda: _boards(own_redis.client(), system.prefix) == boards_before, 30,
                   "every leaderboard back", system.worker_logs)  # fmt: skip


def test_a_slow_redis_delays_but_loses_nothing(
    settings: Settings, tmp_path: Path, own_redis: ThrowawayRedis
) -> None:
    """Redis answers slowly (DEBUG SLEEP holds it 2 s at a time, over and over) while the log
    streams in: latency grows, and the cards still equal the replay."""
    system = System.fresh(settings.model_copy(update={"redis_url": own_redis.url}), tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=10)
    want, _ = expected_cards(lines)
    stop = threading.Event()

    def slow_down() -> None:
        client = own_redis.client()
        while not stop.is_set():
            client.execute_command("DEBUG", "SLEEP", "2")  # type: ignore[no-untyped-call]
            time.sleep(0.3)

    slower = threading.Thread(target=slow_down, daemon=True)
    with system.worker():
        slower.start()
        for start in range(0, len(lines), 300):
            produce_lines(settings.kafka_bootstrap, lines[start : start + 300])
            time.sleep(0.5)
        time.sleep(5)
        stop.set()
        slower.join(timeout=10)
        wait_until(lambda: assert_same(system.cards(), want), 120, "the replay's cards",
                   system.worker_logs)  # fmt: skip


def test_kafka_stopped_mid_stream_then_back(
    settings: Settings, tmp_path: Path, own_kafka: ThrowawayKafka
) -> None:
    """The broker goes away for 30 s with the worker mid-log: the worker waits (never exits),
    reconnects when it is back, and the cards equal the replay of the whole log."""
    settings = settings.model_copy(update={"kafka_bootstrap": own_kafka.bootstrap})
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=11)
    half = len(lines) // 2
    want, _ = expected_cards(lines)
    produce_lines(settings.kafka_bootstrap, lines[:half])
    with system.worker() as worker:
        wait_until(lambda: system.cards() != {}, 120, "the first cards", system.worker_logs)
        own_kafka.stop()
        time.sleep(OUTAGE_S)
        assert worker.poll() is None, "the worker exited while Kafka was away"
        own_kafka.start()
        produce_lines(settings.kafka_bootstrap, lines[half:])
        wait_until(lambda: assert_same(system.cards(), want), 180,
                   "every card, equal to the replay", system.worker_logs)  # fmt: skip


def _boards(client: redis.Redis, prefix: str) -> dict[Any, Any]:
    return {
        key: client.zrange(key, 0, -1, withscores=True)
        for key in client.scan_iter(match=f"{prefix}:lb:*", count=1000)
    }
