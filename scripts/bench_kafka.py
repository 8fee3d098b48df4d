"""What the benchmark reads on Kafka: the input topics' offsets, the bare consumer and the
faust floor (the two baselines), and the worker's state as its changelog holds it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson
from bench_common import BENCH_DIR, ROOT, BenchError, progress
from confluent_kafka import KafkaError, TopicPartition

from schemas import topics
from schemas.settings import Settings
from streams.admin.topic_admin import delete_consumer_group
from streams.runtime.connections import aiokafka_kwargs, kafka_consumer

APP_ID: Final = "bench"
STATE_CHANGELOG: Final = f"{APP_ID}-state-changelog"
"""The changelog of the worker's one state table (streams/worker/state_table.py)."""

Offsets = dict[tuple[str, int], tuple[int, int]]
"""(topic, partition) -> (low, high) offsets."""


def watermarks(settings: Settings, names: Sequence[str]) -> Offsets:
    """(low, high) offsets of every partition of ``names`` that exists."""
    consumer = kafka_consumer(
        settings, {"group.id": f"{APP_ID}-watermarks", "enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        out: Offsets = {}
        for name in names:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            for partition in topic.partitions:
                out[(name, partition)] = consumer.get_watermark_offsets(
                    TopicPartition(name, partition), timeout=10
                )
        return out
    finally:
        consumer.close()


def input_messages(settings: Settings) -> int:
    return sum(high - low for low, high in watermarks(settings, topics.CRM_INPUTS).values())


@dataclass(frozen=True)
class InputGuard:
    """Fails the run when the input topics lose messages under it: tests (System.fresh)
    and `scorestream reset` delete every Scorestream topic, and a worker would then wait
    forever for messages that are gone."""

    settings: Settings
    expected: int

    def check(self) -> None:
        now = input_messages(self.settings)
        if now < self.expected:
            raise BenchError(
                f"the input topics hold {now:,} messages, fewer than the {self.expected:,}"
                " of this run: someone deleted or re-created them (a test, `scorestream"
                " reset`); run the benchmark again while nobody else uses the broker"
            )


def changelog_topics(settings: Settings) -> list[str]:
    consumer = kafka_consumer(settings, {"group.id": f"{APP_ID}-meta"})
    try:
        names = consumer.list_topics(timeout=10).topics
    finally:
        consumer.close()
    return sorted(n for n in names if n.startswith(f"{APP_ID}-") and n.endswith("-changelog"))


def live_state_bytes(settings: Settings) -> tuple[int, int]:
    """(bytes, keys) of the state table as its changelog says it is now: the last record
    of each key, tombstones removed. What a recovering worker reads back, without the
    RocksDB files' write-ahead log and not yet compacted levels."""
    ranges = {tp: hl for tp, hl in watermarks(settings, [STATE_CHANGELOG]).items() if hl[1] > hl[0]}
    consumer = kafka_consumer(
        settings,
        {"group.id": f"{APP_ID}-state-size", "enable.auto.commit": False,
         "enable.partition.eof": True},
    )  # fmt: skip
    live: dict[tuple[int | None, bytes], int] = {}
    try:
        consumer.assign([TopicPartition(t, p, low) for (t, p), (low, _) in ranges.items()])
        left = {p for (_, p) in ranges}
        while left:
            messages = consumer.consume(10_000, timeout=10)
            if not messages:
                raise BenchError(f"{STATE_CHANGELOG} could not be read to its end")
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        left.discard(message.partition())
                    continue
                key = (message.partition(), bytes(message.key() or b""))
                value = message.value()
                if value is None:
                    live.pop(key, None)
                else:
                    live[key] = len(key[1]) + len(value)
    finally:
        consumer.close()
    return sum(live.values()), len(live)


async def bare_consume(settings: Settings, ranges: Offsets) -> int:
    """Read every message in ``ranges`` with aiokafka and orjson-decode it; returns the count."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AioTopicPartition

    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        ends = {
            AioTopicPartition(t, p): high for (t, p), (low, high) in ranges.items() if high > low
        }
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        count = 0
        while ends:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batches.items():
                for record in records:
                    orjson.loads(record.value)
                count += len(records)
                if records and records[-1].offset + 1 >= ends.get(tp, 0):
                    ends.pop(tp, None)
        return count
    finally:
        await consumer.stop()


def faust_floor(settings: Settings, messages: int, env: dict[str, str]) -> float | None:
    """Messages per second (first to last) of scripts/faust_floor_app.py over ``messages``;
    None if it failed."""
    out = BENCH_DIR / "faust_floor.json"
    out.unlink(missing_ok=True)
    # Its "bench-floor-*" topics go with the next run's reset; the group now.
    app_id = f"{APP_ID}-floor"
    delete_consumer_group(settings, app_id)
    env = {
        **env, "FLOOR_APP_ID": app_id, "FLOOR_MESSAGES": str(messages), "FLOOR_OUT": str(out),
        "FLOOR_DATADIR": str(BENCH_DIR / "floor"), "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    cmd = [sys.executable, str(ROOT / "scripts" / "faust_floor_app.py"), "worker", "-l", "warn"]
    with (BENCH_DIR / "faust_floor.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=max(120.0, messages / 1000))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not out.exists():
        progress(f"the faust floor did not finish: see {BENCH_DIR / 'faust_floor.log'}")
        return None
    floor = orjson.loads(out.read_bytes())
    return float(floor["messages"]) / float(floor["seconds"])
