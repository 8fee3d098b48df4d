"""The worker under faults on the real Kafka and Redis: kill -9 at random moments (once with
its data directory wiped) while a messy log streams in, and hostile bytes of every kind
mixed into a valid log. Whatever happens, the drained stream equals the replay."""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from schemas import topics
from schemas.settings import Settings
from tests.integration.test_worker_end_to_end import assert_same, expected_cards, simulated_log
from tests.integration.worker_harness import System, produce_lines, wait_until
from tests.streams.worker.test_teams import hostile_team_messages

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def test_kill_9_at_random_moments_still_equals_the_replay(
    settings: Settings, tmp_path: Path
) -> None:
    """Three kill -9 while the log streams in, the second after wiping the data directory, so
    state comes back from the changelog: the scorecards equal the replay KPI for KPI."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=90, seed=11)
    want, _ = expected_cards(lines)
    rng = random.Random(7)

    def produce_slowly() -> None:
        for i in range(0, len(lines), 200):
            produce_lines(settings.kafka_bootstrap, lines[i : i + 200])
            time.sleep(0.25)

    producing = threading.Thread(target=produce_slowly)
    producing.start()
    for kill in range(3):
        if kill == 1:
            shutil.rmtree(system.data_dir, ignore_errors=True)
        worker = system.start_worker()
        try:
            # Killed once it is busy: after it handled some messages, at a random moment.
            wait_until(lambda: system.events_in() > 0, 60, "the worker to start handling",
                       system.worker_logs, poll_s=0.05)  # fmt: skip
            time.sleep(rng.uniform(0.2, 3.0))
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
    producing.join()
    with system.worker():
        # The last worker must itself join, recover and take part: not pass on the cards
        # the one before it wrote.
        wait_until(system.ready, 120, "the last worker to be ready", system.worker_logs)
        wait_until(lambda: assert_same(system.cards(), want), 240,
                   "Redis to equal the replay after three kill -9", system.worker_logs)  # fmt: skip


def hostile_messages(
    valid: list[bytes], rng: random.Random
) -> list[tuple[str, bytes | None, bytes, str]]:
    """(topic, key, value, expected reason) for every kind of bad input we can think of."""
    call = orjson.loads(next(line for line in valid if b'"call_logged"' in line))
    rep = call["rep_id"].encode()
    deal = orjson.loads(
        next(line for line in valid if b'"deal_won"' in line and rep in line)
    )  # the same rep: a hostile deal's only fault is the one meant

    def bad(
        body: dict[str, object], reason: str, key: bytes | None = rep, topic: str = topics.CALLS
    ) -> tuple[str, bytes | None, bytes, str]:
        return (topic, key, orjson.dumps(body), reason)

    out: list[tuple[str, bytes | None, bytes, str]] = []
    for i in range(120):  # 17 kinds: 2,040 messages
        ident = f"hostile-{i}"
        out += [
            (topics.CALLS, rep, b"\x00" + rng.randbytes(rng.randint(0, 200)), "invalid_json"),
            (topics.CALLS, None, orjson.dumps({**call, "event_id": ident}), "wrong_key"),
            (topics.CALLS, rep, orjson.dumps({**call, "event_id": ident})[:-7], "invalid_json"),
            (topics.CALLS, rep, b"[" * 20_000 + b"]" * 20_000, "invalid_json"),
            (topics.CALLS, rep, b'{"event_id": "\xff\xfe", "rep_id": "x"}', "invalid_json"),
            (
                topics.DEALS,
                rep,
                orjson.dumps({**deal, "event_id": ident}).replace(
                    b'"amount":', b'"amount":NaN,"x":'
                ),
                "invalid_event",
            ),
            (
                topics.DEALS,
                rep,
                orjson.dumps({**deal, "event_id": ident}).replace(
                    b'"amount":', b'"amount":1e400,"x":'
                ),
                "invalid_event",
            ),
            bad({**call, "event_id": ident, "duration_seconds": "long"}, "invalid_event"),
            bad({**call, "event_id": ident, "occurred_at": "2026-05-01T10:00:00"}, "invalid_event"),
            bad({**call, "event_id": ident, "occurred_at": 1_780_000_000}, "invalid_event"),
            bad({**call, "event_id": ident, "occurred_at": "1780000000"}, "invalid_event"),
            bad({**call, "event_id": ""}, "invalid_event"),
            bad({**call, "event_id": ident, "occurred_at": "2099-01-01T00:00:00+00:00"}, "future"),
            bad({**call, "event_id": ident, "occurred_at": "9999-12-31T23:59:59+00:00"}, "future"),
            bad(
                {**deal, "event_id": ident, "occurred_at": "2099-03-01T00:00:00+00:00"},
                "future",
                topic=topics.DEALS,
            ),
            bad({**call, "event_id": ident}, "wrong_key", key=b"somebody-else"),
            bad({**call, "event_id": ident}, "wrong_key", key=b"\xff\xfe"),
        ]
    return out


def test_hostile_input_never_stops_the_worker_and_changes_no_valid_score(
    settings: Settings, tmp_path: Path
) -> None:
    """Garbage, truncation, deep nesting, wrong types, NaN and 1e400, missing offsets, dates
    in 2099 and 9999, numeric timestamps, keys that are not the rep, empty ids, bad UTF-8,
    on the CRM topics and on the worker's own team topic: each is a dead letter with its
    reason, and the valid events score as the replay does, rep and team cards."""
    system = System.fresh(settings, tmp_path)
    valid = simulated_log(tmp_path, days=30, seed=3, malformed=0.0)
    want, rejected = expected_cards(valid)
    assert rejected == 0
    hostile = hostile_messages(valid, random.Random(5))
    on_team_topic = hostile_team_messages()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    produce_lines(settings.kafka_bootstrap, valid[: len(valid) // 2])
    for topic, key, value, _ in hostile:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0
    with system.worker() as worker:
        # The team topic is the worker's own (made as it starts): hostile bytes there too.
        wait_until(system.ready, 120, "the worker to be ready", system.worker_logs)
        team_topic = topics.team_updates(system.app_id)
        for value, _ in on_team_topic:
            producer.produce(team_topic, value=value, key=b"north")
        assert producer.flush(30) == 0
        hostile += [(team_topic, b"north", value, reason) for value, reason in on_team_topic]
        produce_lines(settings.kafka_bootstrap, valid[len(valid) // 2 :])
        wait_until(lambda: assert_same(system.cards(), want), 180,
                   "the valid events to score as the replay", system.worker_logs)  # fmt: skip
        assert worker.poll() is None, "the worker stopped"
    letters = system.dead_letters()
    got, want_reasons = Counter(x["reason"] for x in letters), Counter(r for *_, r in hostile)
    assert got == want_reasons, [x["detail"] for x in letters][:: max(1, len(letters) // 40)]
    sent = {(value, reason) for _, _, value, reason in hostile}
    assert {(base64.b64decode(x["original"]), x["reason"]) for x in letters} == sent
