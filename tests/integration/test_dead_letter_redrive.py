"""Dead letters people can work with: counted by reason, and sent back once after a fix."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from confluent_kafka import Producer

from schemas import topics
from schemas.scorecard_definition import DEFAULT_SCORECARD
from schemas.settings import Settings
from tests.integration.worker_harness import SCORESTREAM, System, wait_until
from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def jpy_deal(deal: str, amount: float) -> dict[str, Any]:
    return {"event_id": f"won-{deal}", "event_type": "deal_won", "rep_id": "rep-ana",
            "occurred_at": "2026-05-30T10:00:00Z", "deal_id": deal, "amount": amount,
            "currency": "JPY", "opened_at": "2026-05-01T10:00:00Z"}  # fmt: skip


def cli(system: System, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [SCORESTREAM, *args, "--json"], env=system.env(), capture_output=True, check=True
    )
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result


def test_stats_count_by_reason_and_redrive_sends_each_fixed_letter_back_once(
    settings: Settings, tmp_path: Path
) -> None:
    system = System.fresh(settings, tmp_path)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for value, key in [
        (orjson.dumps(jpy_deal("d1", 100_000)), b"rep-ana"),
        (orjson.dumps(jpy_deal("d2", 50_000)), b"rep-ana"),
        (b"<html>502</html>", b"rep-ana"),
    ]:
        producer.produce(topics.DEALS, value=value, key=key)
    assert producer.flush(30) == 0
    with system.worker():
        wait_until(lambda: len(system.dead_letters()) == 3, 60, "three dead letters",
                   system.worker_logs)  # fmt: skip
    # A worker killed before committing its batch dead-letters a message again on redelivery:
    # the same source (topic, partition, offset) twice on crm.dlq, counted once.
    (html,) = [d for d in system.dead_letters() if d["reason"] == "invalid_json"]
    producer.produce(topics.DLQ, value=orjson.dumps(html), key=b"rep-ana")
    assert producer.flush(30) == 0
    stats = cli(system, "dlq", "stats")
    assert stats["by_reason"] == {"invalid_json": 1, "unknown_currency": 2}
    assert stats["by_reason_and_topic"]["unknown_currency"] == {"crm.deals": 2}
    assert (stats["total"], stats["repeated"]) == (3, 1)

    # The fix: the scorecard learns the rate (a new version). Then the two deals go back, once.
    definition = yaml.safe_load((REPO_ROOT / "schemas" / DEFAULT_SCORECARD).read_text())
    definition["fx_rates"]["JPY"] = 0.0067
    fixed = tmp_path / "scorecard.yaml"
    fixed.write_text(yaml.safe_dump(definition))
    future = cli(system, "dlq", "redrive", "--reason", "unknown_currency", "--since", "2999-01-01")
    assert (future["sent"], future["older_than_since"]) == (0, 2)
    first = cli(system, "dlq", "redrive", "--reason", "unknown_currency")
    assert (first["sent"], first["sent_per_topic"]) == (2, {"crm.deals": 2})
    again = cli(system, "dlq", "redrive", "--reason", "unknown_currency")
    assert (again["sent"], again["already_sent"]) == (0, 2)

    def revenue_counted() -> bool:
        card = system.cards().get(("rep-ana", None, "30d"))
        assert card is not None
        assert card["kpis"]["revenue_won"]["value"] == pytest.approx(150_000 * 0.0067)
        return True

    published = cli(system, "scorecard", "publish", str(fixed), "--note", "the JPY rate")
    assert (published["status"], published["version"]) == ("published", 2)
    assert [c["path"] for c in published["changes"]] == ["fx_rates.JPY"]
    with system.worker():  # version 2, from the topic
        wait_until(revenue_counted, 60, "the redriven deals to count", system.worker_logs)
    assert len(system.dead_letters()) == 4  # the three and the repeat: nothing failed again
