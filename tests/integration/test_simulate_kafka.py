"""``scorestream simulate`` into the real Kafka broker, read back with a confluent consumer."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import typer
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from schemas.events import TOPIC_OF_EVENT_TYPE, parse_event
from schemas.exceptions import EventError
from schemas.settings import Settings
from streams.admin.topic_admin import create_topics, wait_for_topics
from streams.cli.simulate import simulate

CRM_TOPICS = sorted(set(TOPIC_OF_EVENT_TYPE.values()))
Offsets = dict[tuple[str, int], int]


def high_watermark(consumer: Consumer, topic: str, partition: int) -> int:
    """The end offset; a partition created a moment ago may answer "not leader" briefly."""
    deadline = time.monotonic() + 30
    while True:
        try:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            return int(high)
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise
            if exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION:
                raise
            time.sleep(0.5)


def end_offsets(consumer: Consumer, admin: AdminClient) -> Offsets:
    metadata = admin.list_topics(timeout=10)
    offsets: Offsets = {}
    for topic in CRM_TOPICS:
        for partition in metadata.topics[topic].partitions:
            offsets[(topic, partition)] = high_watermark(consumer, topic, partition)
    return offsets


def read_range(
    consumer: Consumer, start: Offsets, stop: Offsets
) -> list[tuple[str, int, bytes, bytes]]:
    """(topic, partition, key, value) of every message between two offset snapshots."""
    wanted = {tp: (start[tp], stop[tp]) for tp in stop if stop[tp] > start.get(tp, 0)}
    consumer.assign([TopicPartition(t, p, low) for (t, p), (low, _) in wanted.items()])
    messages: list[tuple[str, int, bytes, bytes]] = []
    done: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 60
    while len(done) < len(wanted) and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=1000, timeout=1.0):
            if message.error() is not None:
                continue
            tp = (str(message.topic()), int(message.partition() or 0))
            offset = message.offset()
            assert offset is not None
            if offset < wanted[tp][1]:
                messages.append((tp[0], tp[1], message.key() or b"", message.value() or b""))
            if offset + 1 >= wanted[tp][1]:
                done.add(tp)
    assert len(done) == len(wanted), "timed out reading back the simulated messages"
    return messages


@pytest.mark.kafka
def test_backfill_reaches_kafka_as_written_to_file(
    kafka_bootstrap: str, kafka_admin: AdminClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small backfill sent to Kafka equals the same run written to a file: every line on its
    event type's topic, keyed by rep_id, malformed bytes included, and each rep on the
    partition the Java/aiokafka murmur2 partitioner picks (so faust agrees on co-partitioning)."""
    monkeypatch.setenv("SCORESTREAM_KAFKA_BOOTSTRAP", kafka_bootstrap)
    settings = Settings.from_env()
    create_topics(settings, settings.partitions)
    wait_for_topics(settings, CRM_TOPICS)  # a fresh broker lists new topics a moment later
    app = typer.Typer()
    app.command("simulate")(simulate)
    app.command("noop")(lambda: None)
    seed = str(secrets.randbelow(2**31))  # fresh ids: other runs' messages cannot match ours
    args = ["simulate", "--days", "3", "--seed", seed, "--end", "2026-02-02", "--teams", "2",
            "--malformed-share", "0.02", "--no-progress"]  # fmt: skip

    out = tmp_path / "events.jsonl"
    assert CliRunner().invoke(app, [*args, "--out", str(out)]).exit_code == 0
    expected: Counter[tuple[str, bytes]] = Counter()
    for line in out.read_bytes().splitlines():
        try:
            expected[(TOPIC_OF_EVENT_TYPE[parse_event(line).event_type], line)] += 1
        except EventError:
            expected[("malformed", line)] += 1

    consumer = Consumer({
        "bootstrap.servers": kafka_bootstrap,
        "group.id": f"test-simulate-{uuid.uuid4().hex[:8]}",  # required; never joined
        "enable.auto.commit": False,
    })  # fmt: skip
    try:
        before = end_offsets(consumer, kafka_admin)
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        after = end_offsets(consumer, kafka_admin)
        messages = read_range(consumer, before, after)
    finally:
        consumer.close()

    mine = [m for m in messages if ("malformed", m[3]) in expected or (m[0], m[3]) in expected]
    got: Counter[tuple[str, bytes]] = Counter()
    for topic, _, _, value in mine:
        got[(topic, value) if (topic, value) in expected else ("malformed", value)] += 1
    assert got == expected

    partitions_of_topic = {t: len([1 for (tt, _) in after if tt == t]) for t in CRM_TOPICS}
    rep_partitions: dict[bytes, set[int]] = defaultdict(set)
    for topic, partition, key, value in mine:
        assert key.startswith(b"rep-")
        if ("malformed", value) not in expected:
            assert parse_event(value).rep_id.encode() == key
        count = partitions_of_topic[topic]
        assert partition == DefaultPartitioner()(key, list(range(count)), list(range(count)))
        rep_partitions[key].add(partition)
    if len(set(partitions_of_topic.values())) == 1:  # co-partitioned topics
        assert all(len(parts) == 1 for parts in rep_partitions.values())
