"""Our Python clients against the real Apache Kafka 4.1 broker (KRaft).

Kafka 4.0 removed old protocol versions (KIP-896); these tests prove that the
clients of the fixed stack (confluent-kafka for producers, aiokafka 0.14 and
faust-streaming on top of it for the worker) still speak to the broker, and that
both sides agree on which partition a rep_id lands in.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as ConfluentTopicPartition
from confluent_kafka.admin import AdminClient

from tests.conftest import MakeTopic
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.kafka


def _produce_keyed(bootstrap: str, topic: str, messages: list[tuple[str, str]]) -> None:
    """Produce with confluent-kafka the way our producers must: Java-compatible murmur2."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            # librdkafka's default (consistent_random, CRC32) puts a key on another
            # partition than Java clients, aiokafka and faust (murmur2) do.
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
        }
    )
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in messages:
        producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=on_delivery)
    assert producer.flush(30) == 0, "messages still queued after 30 s"
    assert errors == []


async def test_confluent_producer_to_aiokafka_consumer(
    kafka_bootstrap: str, make_topic: MakeTopic
) -> None:
    """Keyed messages from confluent-kafka come back intact through aiokafka, one partition per key,
    the partition aiokafka's (and faust's) own partitioner would choose."""
    partitions = 3
    topic = make_topic(partitions=partitions)
    sent = [(f"rep-{i % 10}", json.dumps({"seq": i})) for i in range(60)]
    _produce_keyed(kafka_bootstrap, topic, sent)

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[str, str, int]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    received.extend(
                        (r.key.decode(), r.value.decode(), r.partition)
                        for r in records
                        if r.key is not None and r.value is not None
                    )
    finally:
        await consumer.stop()

    assert sorted((k, v) for k, v, _ in received) == sorted(sent)
    partition_of: dict[str, set[int]] = {}
    for key, _, partition in received:
        partition_of.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in partition_of.values()), partition_of
    for key, (partition,) in partition_of.items():
        assert partition == (murmur2(key.encode()) & 0x7FFFFFFF) % partitions, key
    # Per key, the order of production is kept.
    for key in partition_of:
        seqs = [json.loads(v)["seq"] for k, v, _ in received if k == key]
        assert seqs == sorted(seqs)


async def test_aiokafka_consumer_group_commits(kafka_bootstrap: str, make_topic: MakeTopic) -> None:
    """aiokafka joins a consumer group, commits offsets and a confluent consumer sees them
    (the group protocol faust relies on works against a 4.x broker)."""
    topic = make_topic(partitions=2)
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, key=f"k{i}".encode(), value=str(i).encode())
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    try:
        async with asyncio.timeout(30):
            while seen < 10:
                batches = await consumer.getmany(timeout_ms=500)
                seen += sum(len(records) for records in batches.values())
        await consumer.commit()
        committed = {
            tp.partition: await consumer.committed(tp)
            for tp in (TopicPartition(topic, 0), TopicPartition(topic, 1))
        }
    finally:
        await consumer.stop()
    assert seen == 10
    assert sum(offset or 0 for offset in committed.values()) == 10

    checker = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    try:
        offsets = checker.committed(
            [ConfluentTopicPartition(topic, 0), ConfluentTopicPartition(topic, 1)], timeout=10
        )
    finally:
        checker.close()
    assert sum(tp.offset for tp in offsets) == 10


def test_faust_worker_consumes(kafka_bootstrap: str, make_topic: MakeTopic, tmp_path: Path) -> None:
    """A real `faust worker` (kafka:// transport, agent + changelog-backed table) consumes
    every keyed message from this broker: group join, internal topic creation, changelog
    writes and offset commits all work."""
    partitions = 3
    topic = make_topic(partitions=partitions)
    sent = [(f"rep-{i % 5}", f"v{i}") for i in range(30)]
    _produce_keyed(kafka_bootstrap, topic, sent)

    out = tmp_path / "consumed.jsonl"
    log_path = tmp_path / "worker.log"
    app_id = f"test-faust-probe-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PROBE_BOOTSTRAP": kafka_bootstrap,
        "PROBE_TOPIC": topic,
        "PROBE_OUT": str(out),
        "PROBE_PARTITIONS": str(partitions),
        "PROBE_APP_ID": app_id,
        "PROBE_DATADIR": str(tmp_path / "faust-data"),
    }
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "faust",
                "-A",
                "tests.integration.faust_probe_app",
                "worker",
                "--without-web",
                "-l",
                "info",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            lines = _wait_for_lines(out, len(sent), worker, timeout_s=90)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    if len(lines) < len(sent):
        tail = log_path.read_text(errors="replace")[-4000:]
        pytest.fail(f"faust consumed {len(lines)}/{len(sent)} messages; worker log tail:\n{tail}")

    assert sorted((line["key"], line["value"]) for line in lines) == sorted(sent)
    for key in {k for k, _ in sent}:
        mine = [line for line in lines if line["key"] == key]
        assert len({line["partition"] for line in mine}) == 1
        assert mine[0]["partition"] == (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
        assert [line["count"] for line in mine] == list(range(1, len(mine) + 1))

    # On shutdown faust committed its offsets (group id = app id) and its table
    # wrote one changelog record per update.
    checker = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": app_id})
    try:
        committed = {
            tp.partition: max(tp.offset, 0)  # no commit (OFFSET_INVALID) on an empty partition
            for tp in checker.committed(
                [ConfluentTopicPartition(topic, p) for p in range(partitions)], timeout=10
            )
        }
        high = {
            p: checker.get_watermark_offsets(ConfluentTopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        changelog = f"{app_id}-counts-changelog"
        changelog_records = sum(
            checker.get_watermark_offsets(ConfluentTopicPartition(changelog, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        checker.close()
    assert committed == high
    assert changelog_records == len(sent)

    _delete_app_topics(kafka_bootstrap, app_id)


def _wait_for_lines(
    path: Path, want: int, worker: subprocess.Popen[bytes], timeout_s: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if len(lines) >= want:
                return lines
        if worker.poll() is not None:
            return lines
        time.sleep(0.25)
    return lines


def _delete_app_topics(bootstrap: str, app_id: str) -> None:
    """faust created its own internal topics (assignor leader, table changelog); remove them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [name for name in admin.list_topics(timeout=10).topics if name.startswith(app_id)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result(timeout=35)
