"""A CRM that writes in Kafka transactions, through the real worker, Kafka and Redis.

Each commit or abort leaves a marker on the partition: an offset no consumer is given. The
worker once counted it as a message, so a caught-up worker looked one message behind
forever (every batch waited its longest, then the worker thought itself behind: no alerts,
scoring every few seconds); and it read uncommitted records, so an aborted transaction's
events were scored. Here the cards equal the replay of the committed events alone, and the
lag of every partition comes back to 0, live and after a restart.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from schemas.events import TOPIC_OF_EVENT_TYPE
from schemas.settings import Settings
from tests.integration.test_worker_end_to_end import assert_same, expected_cards, simulated_log
from tests.integration.worker_harness import System, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def produce_in_transactions(
    bootstrap: str, committed: list[list[bytes]], aborted: list[bytes]
) -> None:
    """Each list of ``committed`` in a transaction of its own, committed; ``aborted`` in one
    between the first two, sent to the broker and then aborted."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "transactional.id": f"crm-{uuid.uuid4().hex}"})  # fmt: skip
    producer.init_transactions(30)

    def send(lines: list[bytes]) -> None:
        for line in lines:
            body = orjson.loads(line)
            topic = TOPIC_OF_EVENT_TYPE[body["event_type"]]
            producer.produce(topic, value=line, key=str(body["rep_id"]).encode())
            producer.poll(0)

    for n, lines in enumerate(committed):
        producer.begin_transaction()
        send(lines)
        producer.commit_transaction(30)
        if n == 0:
            producer.begin_transaction()
            send(aborted)
            assert producer.flush(30) == 0, "the aborted events reach the broker"
            producer.abort_transaction(30)


def lag(system: System) -> float:
    """The worker's summed lag gauge (-1 per partition whose end it does not know yet)."""
    return system.metric("scorestream_consumer_lag")


def test_a_transactional_crm_is_read_committed_and_leaves_no_lag(
    settings: Settings, tmp_path: Path
) -> None:
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=20, malformed=0)
    aborted, kept = lines[::7], [line for n, line in enumerate(lines) if n % 7]
    want, _ = expected_cards(kept)
    with_aborted, _ = expected_cards(lines)
    assert want != with_aborted, "the aborted events would move the cards"
    half = len(kept) // 2
    with system.worker():
        wait_until(system.ready, 90, "the worker to be ready", system.worker_logs)
        produce_in_transactions(settings.kafka_bootstrap, [kept[:half], kept[half:]], aborted)
        logs = system.worker_logs
        wait_until(lambda: assert_same(system.cards(), want), 180,
                   "Redis to equal the replay of the committed events", logs)  # fmt: skip
        wait_until(lambda: len(system.held()) > 0 and lag(system) == 0, 30,
                   "every partition's lag to be 0 past the markers", logs)  # fmt: skip
        assert system.events_in() == len(kept), "no aborted event was consumed"
    with system.worker():  # the group's offsets now stop at markers
        wait_until(lambda: system.ready() and len(system.held()) > 0 and lag(system) == 0, 90,
                   "the lag to be 0 after a restart", system.worker_logs)  # fmt: skip
    assert_same(system.cards(), want)
