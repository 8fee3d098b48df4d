"""Two `notify` instances in one group: the second joins while alerts are being sent to a
slow receiver; the rebalance moves partitions only after their deliveries are recorded and
committed, so every alert arrives once, with no repeat at all (no process died)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

from schemas import topics
from schemas.settings import Settings
from tests.integration.notify_harness import Notify, webhook_secret
from tests.integration.worker_harness import System, wait_until
from tests.notify_receiver import Answer, always, receiver
from tests.sinks.alerts import make_alert

ROUTES = """\
channels:
  floor: {type: webhook, url_env: FLOOR_HOOK, secret_env: FLOOR_HOOK_SECRET}
routes:
  - to: [floor]
"""
ALERTS = 60


def produce(settings: Settings, numbers: range) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for i in numbers:
        alert = make_alert(alert_id=f"scale-{i:03d}", rep_id=f"rep-{i % 12:02d}",
                           raised_at=datetime.now(UTC))  # fmt: skip
        producer.produce(topics.ALERTS, alert.model_dump_json().encode(),
                         key=alert.rep_id.encode())  # fmt: skip
    assert producer.flush(10) == 0


def test_a_second_instance_joining_repeats_nothing(settings: Settings, tmp_path: Path) -> None:
    system = System.fresh(settings, tmp_path)
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(ROUTES)
    secret = webhook_secret(b"scale")
    with receiver(always(Answer(200, delay_s=0.15))) as floor:
        notify = Notify.of(system, routes_file, {"FLOOR_HOOK": floor.url,
                                                 "FLOOR_HOOK_SECRET": secret})  # fmt: skip
        try:
            first = notify.start()
            produce(settings, range(0, ALERTS // 3))
            wait_until(lambda: len(floor.requests) >= 5, 60, "the first deliveries", notify.logs)
            notify.port += 1  # the second instance serves its own /healthz
            second = notify.start()  # joins while the first wave is still being sent
            wait_until(notify.healthy, 30, "the second instance", notify.logs)
            time.sleep(4)  # the group's rebalance
            produce(settings, range(ALERTS // 3, ALERTS))
            wait_until(lambda: len({r.headers["webhook-id"] for r in floor.requests}) >= ALERTS,
                       120, "every alert", notify.logs)  # fmt: skip
            time.sleep(3)
            second_sent = sum(
                float(line.rsplit(" ", 1)[1]) for line in notify.metrics().splitlines()
                if line.startswith("scorestream_notify_sent_total{")
            )  # fmt: skip
            assert second_sent > 0  # it did take partitions over, with alerts still to send
            assert Notify.stop(second) == 0 and Notify.stop(first) == 0, notify.logs()
        finally:
            notify.kill_leftovers()
    counts = Counter(r.headers["webhook-id"] for r in floor.requests)
    assert set(counts) == {f"scale-{i:03d}" for i in range(ALERTS)}
    assert max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]
    assert "notify consuming" in notify.logs()
