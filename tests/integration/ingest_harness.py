"""The real `scorestream ingest` as a subprocess, and what tests ask of it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka import Consumer, KafkaException, TopicPartition

from schemas import topics
from tests.integration.worker_harness import SCORESTREAM
from tests.redis_server import free_port

INGEST_KEY = "ingest-test-key-0123456789"
HUBSPOT_SECRET = "hubspot-test-secret-0123456789"
SALESFORCE_SECRET = "salesforce-test-secret-0123456789"


@dataclass
class Ingest:
    url: str
    log: Path

    def post(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-ndjson",
        key: str | None = INGEST_KEY,
        path: str = "/v1/events",
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 60,
    ) -> httpx.Response:
        sent = {"content-type": content_type, **(headers or {})}
        if key is not None:
            sent["authorization"] = f"Bearer {key}"
        return httpx.post(self.url + path, content=body, headers=sent, timeout=timeout_s)


@contextmanager
def ingest(bootstrap: str, log_dir: Path, **env: str) -> Iterator[Ingest]:
    """The gateway on a free port against ``bootstrap``, ready (its directory read)."""
    port = free_port()
    log = log_dir / f"ingest-{time.monotonic_ns()}.log"
    environ = {
        **os.environ,
        "SCORESTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "SCORESTREAM_INGEST_KEYS": INGEST_KEY,
        "SCORESTREAM_HUBSPOT_SECRET": HUBSPOT_SECRET,
        "SCORESTREAM_SALESFORCE_SECRET": SALESFORCE_SECRET,
        "SCORESTREAM_LOG_FORMAT": "json",
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SCORESTREAM, "ingest", "--port", str(port)],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"ingest exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"ingest not ready:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(url + "/healthz", timeout=2).json().get("directory") == "ready":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield Ingest(url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def topic_ends(bootstrap: str, names: tuple[str, ...] = topics.ALL_TOPICS) -> dict[str, int]:
    """The number of messages ever written to each topic (sum of its high watermarks).

    Topics re-created a moment ago may still answer NOT_LEADER while the leaders move in:
    asked again until they answer."""
    deadline = time.monotonic() + 30
    while True:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ingest-test-ends"})
        try:
            ends = {}
            for name in names:
                meta = consumer.list_topics(name, timeout=10).topics[name]
                ends[name] = sum(
                    consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                    for p in meta.partitions
                )
            return ends
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        finally:
            consumer.close()
