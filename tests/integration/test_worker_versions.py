"""Changing the scorecard while the worker runs, on the real Kafka and Redis.

A new weight set published while events flow: every card switches to it within seconds and
the drained stream equals `scorestream replay --scorecard NEW` of the same log. A worker
restarted after a publish takes the latest version from the topic (over --scorecard). A
version the worker cannot use, written past `scorecard publish`, leaves the version in force;
the next usable one (dropping two windows) goes in force and takes their cards out of Redis.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from confluent_kafka import Producer

from schemas import topics
from schemas.definition_version import DefinitionVersion
from schemas.outputs import ScorecardUpdated
from schemas.scorecard_definition import ScorecardDefinition, load_definition, parse_definition
from schemas.settings import Settings
from sinks.redis_keys import RedisKeys
from streams.admin.definitions_topic import publish
from tests.integration.test_worker_end_to_end import (
    Cards,
    assert_same,
    expected_cards,
    simulated_log,
)
from tests.integration.worker_harness import System, produce_lines, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

DEFAULT = load_definition()


def reweighted(**changes: Any) -> ScorecardDefinition:
    """Other perspective and KPI weights and a target: the same state scores differently."""
    data = DEFAULT.model_dump(mode="json")
    data["perspectives"]["financial"]["weight"] = 0.6
    data["perspectives"]["learning_growth"]["weight"] = 0.05
    data["kpis"]["win_rate"]["weight"] = 0.5
    data["kpis"]["calls_logged"]["target"] = {"per_day": 5}
    data.update(changes)
    return parse_definition(data)


def on_version(system: System, version: int, want: Cards) -> bool:
    """Every card in Redis carries ``version`` and equals the replay's, KPI for KPI."""
    got = system.cards()
    stale = sorted({str(c.get("definition_version")) for c in got.values()} - {str(version)})
    assert not stale, f"cards still on versions {stale}"
    return assert_same(got, want)


def test_a_new_weight_set_published_mid_stream_equals_the_replay_of_the_new_version(
    settings: Settings, tmp_path: Path
) -> None:
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=45, seed=8)
    half = len(lines) // 2
    new = reweighted()
    produce_lines(settings.kafka_bootstrap, lines[:half])
    with system.worker():
        first, _ = expected_cards(lines[:half])
        wait_until(lambda: on_version(system, 1, first), 180, "version 1 on the first half",
                   system.worker_logs)  # fmt: skip
        producing = threading.Thread(
            target=produce_lines, args=(settings.kafka_bootstrap, lines[half:])
        )
        producing.start()  # events flow while the version goes out
        published = publish(settings, new, note="more weight on deals", published_by="test")
        assert published.version is not None and published.version.version == 2
        start = time.monotonic()
        wait_until(lambda: {c.get("definition_version") for c in system.cards().values()} == {2},
                   60, "every card on version 2", system.worker_logs)  # fmt: skip
        switched_s = time.monotonic() - start
        producing.join(timeout=60)
        want, _ = expected_cards(lines, new)
        wait_until(lambda: on_version(system, 2, want), 180, "the replay of version 2",
                   system.worker_logs)  # fmt: skip
        assert system.metric("scorestream_definition_version") == 2
    print(f"every card on version 2 {switched_s:.1f} s after the publish")
    last: dict[tuple[str, str], ScorecardUpdated] = {}
    for body in system.read_topic(topics.UPDATES):
        update = ScorecardUpdated.model_validate(body)
        last[(update.rep_id, update.window)] = update
    assert {u.definition_version for u in last.values()} == {2}
    versions = RedisKeys(system.prefix)
    assert system.redis().zrange(versions.applied_definitions, 0, -1) == [b"1", b"2"]


def test_a_restarted_worker_takes_the_latest_version_from_the_topic(
    settings: Settings, tmp_path: Path
) -> None:
    """The first start seeds version 1 from --scorecard; a version published while the
    worker is down is in force when it starts again, with the same --scorecard: the topic
    wins, and the log says so."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=30, seed=9)
    seeded = reweighted(default_monthly_quota=45_000)
    scorecard = tmp_path / "scorecard.yaml"
    scorecard.write_text(yaml.safe_dump(seeded.model_dump(mode="json")))
    produce_lines(settings.kafka_bootstrap, lines)
    with system.worker("--scorecard", str(scorecard)):
        want, _ = expected_cards(lines, seeded)
        wait_until(lambda: on_version(system, 1, want), 180, "version 1 from the file",
                   system.worker_logs)  # fmt: skip
    later = reweighted(default_monthly_quota=80_000)
    assert publish(settings, later, note="new quota", published_by="test").version is not None
    with system.worker("--scorecard", str(scorecard)):
        want, _ = expected_cards(lines, later)
        wait_until(lambda: on_version(system, 2, want), 180, "version 2 from the topic",
                   system.worker_logs)  # fmt: skip
    events = [orjson.loads(line) for line in system.worker_logs().splitlines()
              if line.startswith("{") and "definition_from_topic" in line]  # fmt: skip
    assert events[-1]["version"] == 2 and events[-1]["not_used"] == str(scorecard)


def test_a_version_the_worker_cannot_use_leaves_the_one_in_force(
    settings: Settings, tmp_path: Path
) -> None:
    """A 180-day window, written straight to the topic (publish would refuse it): logged,
    counted on /metrics, and version 1 stays in force while events go on. Then version 3
    drops the 90d and quarter windows: every card is on it, and the dropped windows' cards
    and boards are gone from Redis."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=40, seed=10)
    half = len(lines) // 2
    produce_lines(settings.kafka_bootstrap, lines[:half])
    with system.worker():
        want, _ = expected_cards(lines[:half])
        wait_until(lambda: on_version(system, 1, want), 180, "version 1", system.worker_logs)
        longer = reweighted(windows=["7d", "30d", "180d"])
        raw = DefinitionVersion.of(2, longer, note="by hand", published_by="someone",
                                   published_at=datetime.now(UTC))  # fmt: skip
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
        producer.produce(topics.DEFINITIONS, raw.to_bytes(), raw.key)
        assert producer.flush(10) == 0
        wait_until(lambda: system.metric("scorestream_definitions_refused_total") == 1, 30,
                   "the refusal on /metrics", system.worker_logs)  # fmt: skip
        assert system.metric("scorestream_definition_latest_version") == 2
        assert system.metric("scorestream_definition_version") == 1
        assert '"event": "definition_refused"' in system.worker_logs()
        produce_lines(settings.kafka_bootstrap, lines[half:])
        want, _ = expected_cards(lines)
        wait_until(lambda: on_version(system, 1, want), 180, "the whole log on version 1",
                   system.worker_logs)  # fmt: skip

        fewer = reweighted(windows=["7d", "30d"])
        published = publish(settings, fewer, note="two windows", published_by="test")
        assert published.version is not None and published.version.version == 3
        want, _ = expected_cards(lines, fewer)
        wait_until(lambda: on_version(system, 3, want), 120, "version 3", system.worker_logs)
    keys = RedisKeys(system.prefix)
    client = system.redis()
    assert not list(client.scan_iter(match=f"{system.prefix}:*:90d", count=1000))
    assert not list(client.scan_iter(match=f"{system.prefix}:*quarter*", count=1000))
    assert sorted(client.smembers(keys.windows)) == [b"30d", b"7d"]


def test_a_rollback_to_the_shipped_scorecard_equals_its_replay(
    settings: Settings, tmp_path: Path
) -> None:
    """Version 2 keeps two short windows (it needs 44 days, the shipped one 99) and events
    flow under it; then the shipped scorecard is published again. It goes in force, and
    its 90d and quarter cards are exact: the workers kept every day any version needed."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=80, seed=12)
    half = len(lines) // 2
    produce_lines(settings.kafka_bootstrap, lines[:half])
    fewer = reweighted(windows=["7d", "30d"])
    assert fewer.kept_days() < 80 < DEFAULT.kept_days()  # not vacuous: v2 alone would evict
    with system.worker():
        want, _ = expected_cards(lines[:half])
        wait_until(lambda: on_version(system, 1, want), 180, "version 1", system.worker_logs)
        assert publish(settings, fewer, note="two windows", published_by="test").version
        produce_lines(settings.kafka_bootstrap, lines[half:])
        want, _ = expected_cards(lines, fewer)
        wait_until(lambda: on_version(system, 2, want), 180, "version 2", system.worker_logs)

        back = publish(settings, DEFAULT, note="back to the shipped one", published_by="test")
        assert back.version is not None and back.version.version == 3
        want, _ = expected_cards(lines)
        wait_until(lambda: on_version(system, 3, want), 180, "the shipped scorecard again",
                   system.worker_logs)  # fmt: skip
