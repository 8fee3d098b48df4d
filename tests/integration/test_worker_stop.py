"""A worker told to stop while a batch is open writes the batch, acks it, and stops at once.

faust stops its timers before it waits for the acks of the messages in flight; a batch
that only a timer would end held the shutdown until the process was killed, and the
killed consumer then held the next worker's group join for a whole session timeout.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas import topics
from schemas.settings import Settings
from tests.integration.alert_scenario import scenario
from tests.integration.worker_harness import System, produce_lines, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def committed(settings: Settings, group: str) -> int:
    """Offsets the consumer group committed on the CRM topics, summed over partitions."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        parts = [
            TopicPartition(topic, p)
            for topic in topics.CRM_INPUTS
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def test_sigterm_with_a_batch_open_writes_it_acks_it_and_stops(
    settings: Settings, tmp_path: Path
) -> None:
    system = System.fresh(settings, tmp_path)
    lines = scenario()
    # Sent an hour ago: a backlog, so the worker lets each batch gather for a second,
    # which leaves time to see one open.
    an_hour_ago = int((time.time() - 3600) * 1000)
    sent = 0

    def batch_open() -> bool:
        folded = system.events_in()
        return folded > system.metric("scorestream_batch_messages_sum")

    with system.worker():  # exits by SIGTERM, and fails unless the worker stops cleanly
        for start in range(0, len(lines), 20):
            sent += produce_lines(
                settings.kafka_bootstrap, lines[start : start + 20], timestamp_ms=an_hour_ago
            )
            wait_until(lambda n=sent: system.events_in() >= n, 60, f"{sent} events",
                       system.worker_logs, poll_s=0.02)  # fmt: skip
            if batch_open():
                break
        else:
            pytest.fail("no batch was seen open: nothing tested the stop")

    # The open batch was written and acked before the group was left: nothing to redeliver.
    assert committed(settings, system.app_id) == sent
