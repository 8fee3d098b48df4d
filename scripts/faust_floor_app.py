"""The faust floor of ``make bench``: a faust agent that only decodes the input messages.

Same transport, topics and agent shape as ``scorestream worker`` (kafka://, raw bytes,
concurrency=1, acks), no tables and no processing: what faust itself costs per message
on this machine, the ceiling of any faust worker. Run by bench_worker.py as
``python scripts/faust_floor_app.py worker``; configured by FLOOR_* variables (and the
SCORESTREAM_* ones for the connection, like the worker), it writes {"messages", "seconds"}
(first message to last) to FLOOR_OUT and exits.
"""

from __future__ import annotations

import os
import time
from typing import Any

import faust
import orjson

from schemas import topics
from schemas.settings import Settings
from streams.runtime import connections

EXPECTED = int(os.environ["FLOOR_MESSAGES"])
OUT = os.environ["FLOOR_OUT"]

app = faust.App(
    os.environ["FLOOR_APP_ID"],
    **connections.faust_app_kwargs(Settings.from_env()),
    store="memory://",
    datadir=os.environ["FLOOR_DATADIR"],
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    key_serializer="raw",
    value_serializer="raw",
)
source = app.topic(
    *topics.CRM_INPUTS, key_type=bytes, value_type=bytes,
    key_serializer="raw", value_serializer="raw",
)  # fmt: skip


@app.agent(source, concurrency=1)
async def floor(stream: Any) -> None:
    count, first = 0, 0.0
    async for event in stream.events():
        orjson.loads(event.value)
        count += 1
        if count == 1:
            first = time.monotonic()
        if count >= EXPECTED:
            with open(OUT, "wb") as out:
                out.write(orjson.dumps({"messages": count, "seconds": time.monotonic() - first}))
            os._exit(0)  # nothing to flush or commit: the group is thrown away


if __name__ == "__main__":
    app.main()
