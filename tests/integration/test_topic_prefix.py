"""SCORESTREAM_TOPIC_PREFIX: environments that share a cluster never see each other's names.

A whole environment runs under a prefix of its own (topics, the simulator, the worker with
its default app id): every topic and consumer group it makes starts with the prefix, its
cards reach Redis, and the unprefixed topics (another environment's) get no message."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas import topics
from schemas.settings import Settings, SettingsError
from tests.integration.worker_harness import SCORESTREAM, wait_until
from tests.redis_server import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def ends(bootstrap: str, names: tuple[str, ...]) -> dict[str, int]:
    """Each existing topic's messages (the sum of its high watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        listed = consumer.list_topics(timeout=10).topics
        return {
            name: sum(
                consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                for p in listed[name].partitions
            )
            for name in names
            if name in listed
        }
    finally:
        consumer.close()


def test_the_prefix_names_every_topic_and_group_and_touches_no_other(
    settings: Settings, kafka_admin: AdminClient, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {**os.environ, "SCORESTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "SCORESTREAM_REDIS_URL": settings.redis_url, "SCORESTREAM_REDIS_PREFIX": prefix,
           "SCORESTREAM_TOPIC_PREFIX": prefix, "SCORESTREAM_LOG_FORMAT": "json"}  # fmt: skip
    named = subprocess.run(
        [sys.executable, "-c", "from schemas import topics; print(*topics.ALL_TOPICS)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert named == [prefix + name for name in topics.ALL_TOPICS]
    others = ends(settings.kafka_bootstrap, topics.ALL_TOPICS)
    port = free_port()
    worker: subprocess.Popen[bytes] | None = None
    try:
        run = lambda *args: subprocess.run([SCORESTREAM, *args], env=env, check=True,  # noqa: E731
                                           capture_output=True, timeout=180)  # fmt: skip
        run("topics", "create")
        run("simulate", "--days", "5", "--end", "2026-05-31", "--teams", "2",
            "--reps-per-team", "2", "--no-progress")  # fmt: skip
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [SCORESTREAM, "worker", "--clock", "event", "--data-dir", str(tmp_path / "w"),
             "--web-port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis.from_url(settings.redis_url)
        wait_until(lambda: any(client.scan_iter(match=f"{prefix}:*", count=1000)), 120,
                   "the worker's cards in Redis",
                   lambda: (tmp_path / "worker.log").read_text(errors="replace"))  # fmt: skip
        listed = set(kafka_admin.list_topics(timeout=10).topics)
        ours = {name for name in listed if name.startswith(prefix)}
        assert set(named) <= ours
        assert {f"{prefix}scorestream-team-updates", f"{prefix}scorestream-state-changelog"} <= ours
        groups = lambda: {g.group_id for g in kafka_admin.list_consumer_groups().result(10).valid}  # noqa: E731
        wait_until(lambda: f"{prefix}scorestream" in groups(), 60, "the worker's group")
        assert ends(settings.kafka_bootstrap, topics.ALL_TOPICS) == others
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        doomed = [n for n in kafka_admin.list_topics(timeout=10).topics if n.startswith(prefix)]
        if doomed:
            for future in kafka_admin.delete_topics(doomed, operation_timeout=30).values():
                future.result(timeout=40)


def test_a_prefix_with_a_character_kafka_refuses_fails_at_start_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="SCORESTREAM_TOPIC_PREFIX"):
        Settings.from_env({"SCORESTREAM_TOPIC_PREFIX": "staging/"})
    assert Settings.from_env({"SCORESTREAM_TOPIC_PREFIX": "staging."}).topic_prefix == "staging."
