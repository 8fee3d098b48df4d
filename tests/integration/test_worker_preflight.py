"""The worker's internal topics exist, with leaders, before faust starts.

faust declares a table's changelog only as it starts; when the consumer's metadata lists
the new changelog without partitions yet, the table's agent dies with PartitionsMismatch
and never restarts (seen in CI: team cards never came). So the preflight creates them."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from schemas import topics
from schemas.settings import Settings
from streams.admin.topic_admin import create_topics
from streams.cli.worker import preflight
from streams.worker.app import TABLES

pytestmark = pytest.mark.kafka


def test_preflight_creates_every_changelog_compacted_and_is_idempotent(
    settings: Settings, kafka_admin: AdminClient
) -> None:
    create_topics(settings, settings.partitions)
    app_id = f"test-{uuid.uuid4().hex[:8]}"
    changelogs = [topics.changelog(app_id, t) for t in TABLES]
    internal = [topics.team_updates(app_id), *changelogs]
    try:
        preflight(settings, app_id, TABLES)
        preflight(settings, app_id, TABLES)  # a restart finds them and changes nothing

        listed = kafka_admin.list_topics(timeout=10).topics
        assert {name: len(listed[name].partitions) for name in internal} == dict.fromkeys(
            internal, settings.partitions
        )
        assert all(p.leader >= 0 for n in internal for p in listed[n].partitions.values())
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in internal]
        policies = {
            r.name: f.result(timeout=10)["cleanup.policy"].value
            for r, f in kafka_admin.describe_configs(resources).items()
        }
        assert policies == {topics.team_updates(app_id): "delete"} | dict.fromkeys(
            changelogs, "compact"
        )
    finally:
        for future in kafka_admin.delete_topics(internal, operation_timeout=30).values():
            future.result(timeout=40)
