"""A log posted through `scorestream ingest` ends in the worker's cards exactly as `replay`
computes them, and Kafka going away never turns into a 2xx for an event it does not have."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from schemas import topics
from schemas.events import parse_event
from schemas.exceptions import EventError
from schemas.settings import Settings
from streams.admin.topic_admin import create_topics, wait_for_topics
from tests.integration.ingest_harness import Ingest, ingest, topic_ends
from tests.integration.test_worker_end_to_end import assert_same, expected_cards, simulated_log
from tests.integration.worker_harness import System, wait_until
from tests.kafka_server import ThrowawayKafka

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

BATCH = 500


def invalid_lines(batch: list[bytes]) -> set[int]:
    """The lines (from 1) the contract refuses, computed apart from the gateway."""
    bad = set()
    for n, line in enumerate(batch, start=1):
        if not line.strip():
            continue
        try:
            if not line.lstrip().startswith(b"{"):
                raise EventError("not an object")
            parse_event(line)
        except EventError:
            bad.add(n)
    return bad


def test_posted_log_drains_to_the_replay(settings: Settings, tmp_path: Path) -> None:
    """NDJSON batches with malformed lines, one batch sent twice and the last one retried:
    every answer names exactly the malformed lines, and the cards equal the replay."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=40, seed=9, malformed=0.03)
    lines.insert(7, b"   ")  # blank lines are skipped, never rejected
    lines.insert(11, b"[1, 2, 3]")
    want, _ = expected_cards([line for line in lines if line.strip()])
    batches = [lines[i : i + BATCH] for i in range(0, len(lines), BATCH)]
    assert sum(len(invalid_lines(b)) for b in batches) > 20  # not vacuous
    with ingest(settings.kafka_bootstrap, tmp_path) as gateway:
        order = [*range(len(batches)), 2, len(batches) - 1]  # batch 2 twice, the last retried
        for i in order:
            answer = gateway.post(b"\n".join(batches[i]))
            assert answer.status_code == 200, answer.text
            body = answer.json()
            rejected = [r["line"] for r in body["rejected"]]
            assert sorted(rejected) == rejected and len(set(rejected)) == len(rejected)
            assert set(rejected) == invalid_lines(batches[i]), i
            blank = sum(1 for line in batches[i] if not line.strip())
            assert body["accepted"] == len(batches[i]) - len(rejected) - blank
            assert all(
                r["reason"] in ("invalid_json", "invalid_event") and r["errors"]
                for r in body["rejected"]
            )
    with system.worker():
        wait_until(
            lambda: assert_same(system.cards(), want),
            240,
            "the cards of the posted log to equal the replay",
            system.worker_logs,
        )


def test_kafka_away_gives_503_never_a_2xx_for_a_missing_event(tmp_path: Path) -> None:
    """Batches posted while the broker stops and starts: each answer is 200 with its events on
    the topics, or 503 with Retry-After; retried until 200, every event is there once."""
    kafka = ThrowawayKafka(tmp_path / "kafka")
    kafka.start()
    try:
        throwaway = Settings.from_env({"SCORESTREAM_KAFKA_BOOTSTRAP": kafka.bootstrap})
        assert create_topics(throwaway, 3).ok
        wait_for_topics(throwaway, topics.ALL_TOPICS)
        lines = [
            line for line in simulated_log(tmp_path, days=10, seed=3, malformed=0.0) if line.strip()
        ]
        batches = [lines[i : i + 100] for i in range(0, len(lines), 100)][:40]
        answers: dict[int, list[int]] = {i: [] for i in range(len(batches))}
        stored: set[int] = set()
        with ingest(kafka.bootstrap, tmp_path, SCORESTREAM_INGEST_DEADLINE_S="3") as gateway:

            def post_all(pause_s: float) -> None:
                for i, batch in enumerate(batches):
                    if i in stored:
                        continue
                    answer = gateway.post(b"\n".join(batch))
                    answers[i].append(answer.status_code)
                    if answer.status_code == 200:
                        stored.add(i)
                    else:
                        assert answer.status_code == 503, answer.text
                        assert int(answer.headers["retry-after"]) > 0
                    time.sleep(pause_s)

            poster = threading.Thread(target=post_all, args=(0.2,))
            poster.start()
            time.sleep(1.0)
            kafka.stop()  # while batches are in flight
            time.sleep(4)
            kafka.start()
            poster.join(timeout=300)
            assert 503 in {s for statuses in answers.values() for s in statuses}, answers
            deadline = time.monotonic() + 120
            while len(stored) < len(batches):  # the clients' retries
                assert time.monotonic() < deadline, f"not all stored: {answers}"
                post_all(0.0)
        ends = topic_ends(kafka.bootstrap, topics.CRM_INPUTS)
        sent = [orjson.loads(line) for batch in batches for line in batch]
        # Every event acknowledged is there; a 503'd batch may have landed too (retries dedupe).
        assert sum(ends.values()) >= len(sent)
        ids = read_event_ids(kafka.bootstrap)
        assert {e["event_id"] for e in sent} <= ids
    finally:
        kafka.stop()


def test_healthz_is_up_again_once_kafka_is_back_without_any_request(tmp_path: Path) -> None:
    """The broker stops: /healthz turns 503. It starts again while no request comes (a
    balancer sends none to an unhealthy instance): /healthz turns 200 on its own."""
    kafka = ThrowawayKafka(tmp_path / "kafka")
    kafka.start()
    try:
        throwaway = Settings.from_env({"SCORESTREAM_KAFKA_BOOTSTRAP": kafka.bootstrap})
        assert create_topics(throwaway, 1).ok
        wait_for_topics(throwaway, topics.ALL_TOPICS)
        with ingest(kafka.bootstrap, tmp_path) as gateway:
            assert health(gateway) == (200, "up")
            kafka.stop()
            wait_until(lambda: health(gateway) == (503, "down"), 60, "/healthz to say down")
            kafka.start()
            wait_until(lambda: health(gateway) == (200, "up"), 60, "/healthz to say up again")
    finally:
        kafka.stop()


def health(gateway: Ingest) -> tuple[int, str]:
    answer = httpx.get(gateway.url + "/healthz", timeout=10)
    return answer.status_code, answer.json()["kafka"]


def read_event_ids(bootstrap: str) -> set[str]:
    system_settings = Settings.from_env({"SCORESTREAM_KAFKA_BOOTSTRAP": bootstrap})
    reader = System(system_settings, "ingest-read", "ingest-read", Path("."), Path("."), 0)
    ids = set()
    for topic in topics.CRM_INPUTS:
        ids |= {message["event_id"] for message in reader.read_topic(topic)}
    return ids


def test_hostile_bodies_never_reach_a_topic_nor_stop_the_gateway(
    settings: Settings, tmp_path: Path
) -> None:
    """Huge, deep, bad UTF-8, wrong types, random bytes: 4xx or 200 with everything rejected,
    nothing on any topic, and the gateway still answers."""
    System.fresh(settings, tmp_path)
    rng = random.Random(4)
    bodies = [
        (b"[" * 200_000, "application/json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/x-ndjson"),
        (b"\xff\xfe\x00bad utf-8\n\xc3\x28", "application/x-ndjson"),
        (
            orjson.dumps([{"event_type": "deal_won", "amount": "lots", "rep_id": ["x"]}] * 50),
            "application/json",
        ),
        (
            orjson.dumps({"event_type": "call_logged", "occurred_at": "9999-99-99"}),
            "application/json",
        ),
        (b"x" * 6_000_000, "application/x-ndjson"),
        (b"\n".join(b"{}" for _ in range(10_001)), "application/x-ndjson"),
        *((rng.randbytes(rng.randrange(1, 5000)), "application/x-ndjson") for _ in range(30)),
        *((rng.randbytes(rng.randrange(1, 5000)), "application/json") for _ in range(30)),
        (b"{}", "text/plain"),
    ]
    before = topic_ends(settings.kafka_bootstrap)
    with ingest(settings.kafka_bootstrap, tmp_path) as gateway:
        for body, content_type in bodies:
            answer = gateway.post(body, content_type=content_type)
            assert answer.status_code in (200, 400, 413, 415), (answer.status_code, answer.text)
            if answer.status_code == 200:
                assert answer.json()["accepted"] == 0
        assert gateway.post(b"", content_type="application/json").status_code == 400
        assert gateway.post(b"x" * 6_000_000).status_code == 413
        assert gateway.post(b"{}" * 3, content_type="text/csv").status_code == 415
        assert gateway.post(b"{}", content_type="application/json").status_code == 200
    assert topic_ends(settings.kafka_bootstrap) == before
