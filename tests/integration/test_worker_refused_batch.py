"""A batch the worker cannot write, on the real servers: Kafka refuses its alerts, or its
score events.

The broker refuses every message of the topic (its ``max.message.bytes`` set below any
message's size). The batch cannot be written, so it must not be acked, and the worker must
not read on past it: it exits at once, as after a kill -9, and a restart once the topic is
fixed redelivers the batch. (faust restarted the crashed agent instead: the process stayed
up, read on, and the refused batch's events were missing from the cards until a restart.
And faust's own stop waited for the failed batch's acks.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)

from schemas import topics
from schemas.settings import Settings
from streams.worker import faust_adapter
from tests.integration.test_worker_end_to_end import assert_same, expected_cards, simulated_log
from tests.integration.worker_harness import System, produce_lines, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def set_size_limit(admin: AdminClient, topic: str, max_bytes: int | None) -> None:
    """The topic's ``max.message.bytes``: ``max_bytes``, or the broker's default."""
    op = AlterConfigOpType.DELETE if max_bytes is None else AlterConfigOpType.SET
    entry = ConfigEntry("max.message.bytes", str(max_bytes or ""), incremental_operation=op)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=15)


@pytest.mark.parametrize("refusing", [topics.ALERTS, topics.UPDATES])
def test_a_batch_kafka_refuses_stops_the_worker_and_a_restart_loses_nothing(
    settings: Settings, tmp_path: Path, kafka_admin: AdminClient, refusing: str
) -> None:
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=13)
    want, _ = expected_cards(lines)
    set_size_limit(kafka_admin, refusing, 64)
    try:
        produce_lines(settings.kafka_bootstrap, lines)
        worker = system.start_worker()
        deadline = time.monotonic() + 120
        while worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if worker.poll() is None:
            worker.kill()
            worker.wait()
            pytest.fail(f"the worker read on past a refused batch\n{system.worker_logs()}")
        logs = system.worker_logs(tail=None)
        assert worker.returncode == faust_adapter.EXIT_FAILED, logs
        assert "worker_failed" in logs and "MessageSizeTooLarge" in logs
    finally:
        set_size_limit(kafka_admin, refusing, None)
    with system.worker():
        wait_until(lambda: assert_same(system.cards(), want), 120,
                   "the cards of the replay after the restart", system.worker_logs)  # fmt: skip
        if refusing == topics.UPDATES:  # a score event for every rep scored
            reps = {rep for rep, _, _ in want if rep is not None}
            wait_until(lambda: {m["rep_id"] for m in system.read_topic(refusing)} == reps, 60,
                       "a score event for every rep")  # fmt: skip
        else:
            wait_until(lambda: system.read_topic(refusing) != [], 60, "the alerts sent")
