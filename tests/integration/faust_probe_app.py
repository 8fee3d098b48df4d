"""A minimal faust app run as a real worker by test_kafka_roundtrip: agent + table.

Configured from PROBE_* environment variables so each test run gets its own app id
(consumer group, changelog topic) and source topic. For every event it appends one
JSON line (key, value, partition, running count from a changelog-backed table) to
PROBE_OUT, which the test reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import faust

BOOTSTRAP = os.environ["PROBE_BOOTSTRAP"]
TOPIC = os.environ["PROBE_TOPIC"]
OUT = Path(os.environ["PROBE_OUT"])
PARTITIONS = int(os.environ["PROBE_PARTITIONS"])

app = faust.App(
    os.environ["PROBE_APP_ID"],
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    datadir=os.environ["PROBE_DATADIR"],
    web_enabled=False,
    topic_partitions=PARTITIONS,
    consumer_auto_offset_reset="earliest",
)

source = app.topic(
    TOPIC,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
)
counts = app.Table("counts", default=int, partitions=PARTITIONS)


@app.agent(source, concurrency=1)
async def probe(stream: Any) -> None:
    # NOTE: no `yield` -- a pure consumer; concurrency=1 keeps offsets in order.
    async for event in stream.events():
        key = event.key.decode()
        counts[key] += 1
        line = {
            "key": key,
            "value": event.value.decode(),
            "partition": event.message.partition,
            "count": counts[key],
        }
        with OUT.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
