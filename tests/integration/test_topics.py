"""`scorestream topics create` against the real broker, checked through AdminClient.

These use the real topic names (the product's topics), so they must pass whether
the topics exist already (a developer's broker, a second run) or not (fresh CI).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from schemas import topics
from schemas.settings import Settings
from streams.admin.topic_admin import (
    cluster_metadata,
    create_topics,
    topic_specs,
)
from streams.admin.topic_watch import TopicWatcher
from streams.runtime.connections import kafka_admin
from streams.runtime.exceptions import KafkaUnavailableError, TopicsError
from tests.conftest import MakeTopic

pytestmark = pytest.mark.kafka


def test_topic_specs_plan() -> None:
    """The plan covers every topic once, crm.reps, the redrive record and the scorecard
    versions compacted, one partition count for all but the versions (one partition: read
    in the order published)."""
    specs = topic_specs(4)
    assert [s.name for s in specs] == list(topics.ALL_TOPICS)
    assert {s.name: s.partitions for s in specs if s.partitions != 4} == {topics.DEFINITIONS: 1}
    assert {s.name: dict(s.config) for s in specs if s.config} == {
        topics.REPS: {"cleanup.policy": "compact"},
        topics.DLQ_REDRIVEN: {"cleanup.policy": "compact"},
        topics.DEFINITIONS: {"cleanup.policy": "compact"},
    }
    with pytest.raises(TopicsError):
        topic_specs(0)


def test_create_topics_provisions_all(
    kafka_bootstrap: str, kafka_admin: AdminClient, settings: Settings
) -> None:
    """After provisioning every topic exists with the partition count, crm.reps is compacted,
    and the report accounts for every topic exactly once."""
    report = create_topics(settings, settings.partitions)

    assert set(report.created) | set(report.existing) == set(topics.ALL_TOPICS)
    assert not set(report.created) & set(report.existing)
    assert report.ok, (
        "existing topics differ from the plan (another partition count than"
        f" SCORESTREAM_PARTITIONS={settings.partitions}, or crm.reps not compacted):"
        f" {[t.to_dict() for t in (*report.mismatched, *report.drifted)]}"
    )

    metadata = kafka_admin.list_topics(timeout=10)
    for name in topics.ALL_TOPICS:
        assert name in metadata.topics, name
    activity_counts = {len(metadata.topics[name].partitions) for name in topics.ACTIVITY_TOPICS}
    assert activity_counts == {settings.partitions}
    for outcome in report.topics:
        assert outcome.partitions == len(metadata.topics[outcome.name].partitions)

    resource = ConfigResource(ConfigResource.Type.TOPIC, topics.REPS)
    configs = kafka_admin.describe_configs([resource])[resource].result(timeout=15)
    assert configs["cleanup.policy"].value == "compact"
    resource = ConfigResource(ConfigResource.Type.TOPIC, topics.DEALS)
    configs = kafka_admin.describe_configs([resource])[resource].result(timeout=15)
    assert configs["cleanup.policy"].value == "delete"


def test_create_topics_is_idempotent(kafka_bootstrap: str, settings: Settings) -> None:
    """A second run creates nothing and reports every topic as existing."""
    create_topics(settings, settings.partitions)
    again = create_topics(settings, settings.partitions)
    assert again.created == ()
    assert again.existing == tuple(topics.ALL_TOPICS)
    assert again.ok


def test_create_topics_flags_partition_mismatch(kafka_bootstrap: str, settings: Settings) -> None:
    """Asking for another partition count never alters existing topics; it flags the
    co-partitioned ones (activity topics, crm.reps) as mismatched."""
    create_topics(settings, settings.partitions)
    other = settings.partitions + 1
    report = create_topics(settings, other)
    assert report.created == ()
    assert {t.name for t in report.mismatched} == set(topics.CRM_INPUTS)
    assert all(t.partitions == settings.partitions for t in report.mismatched)
    assert not report.ok


def test_a_replication_factor_the_cluster_cannot_hold_names_the_setting(
    settings: Settings, kafka_admin: AdminClient
) -> None:
    """Managed clusters want 3 copies; our one broker cannot hold 2: the error says which
    variable sets it, and nothing is half made (the topic is created once it fits)."""
    for future in kafka_admin.delete_topics([topics.DLQ], operation_timeout=30).values():
        future.result(timeout=35)
    wait_gone(kafka_admin, topics.DLQ)
    too_many = settings.model_copy(update={"replication_factor": 2})
    with pytest.raises(
        TopicsError, match=r'"crm\.dlq": .*set SCORESTREAM_REPLICATION_FACTOR \(now 2\)'
    ):
        create_topics(too_many, settings.partitions)
    assert create_topics(settings, settings.partitions).created == (topics.DLQ,)


def wait_gone(admin: AdminClient, name: str) -> None:
    deadline = time.monotonic() + 30
    while name in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{name} still listed 30 s after deletion"
        time.sleep(0.2)


def test_create_topics_unreachable_broker() -> None:
    """A broker that does not answer gives an error naming the address and the fix."""
    with pytest.raises(KafkaUnavailableError, match=r"127\.0\.0\.1:1 .*make up"):
        kafka_admin(Settings(kafka_bootstrap="127.0.0.1:1"), timeout_s=1)
    with pytest.raises(KafkaUnavailableError, match=r"127\.0\.0\.1:1 .*make up"):
        cluster_metadata(AdminClient({"bootstrap.servers": "127.0.0.1:1"}), "127.0.0.1:1", 1)


def test_watcher_counts_new_messages(
    kafka_bootstrap: str, settings: Settings, make_topic: MakeTopic
) -> None:
    """The watcher counts only messages produced after it started, per topic, without a group."""
    topic = make_topic(partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, key=b"old", value=b"before the watch")
    assert producer.flush(10) == 0

    with TopicWatcher(settings, prefix=topic) as watcher:
        assert watcher.topics == (topic,)
        watcher.poll_for(1.0)  # let the assignment resolve the end offsets
        for i in range(20):
            producer.produce(topic, key=f"rep-{i % 4}".encode(), value=b"x")
        assert producer.flush(10) == 0
        total = 0
        deadline = time.monotonic() + 15
        while total < 20 and time.monotonic() < deadline:
            snapshot = watcher.poll_for(0.5)
            total = snapshot.total
    assert total == 20
    (rate,) = snapshot.topics
    assert rate.topic == topic and rate.partitions == 2 and rate.total == 20
