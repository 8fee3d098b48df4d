"""Running the real worker in tests: fresh topics, a log produced by a plain producer,
the worker as a subprocess, and Redis read back in the replay's shape."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from schemas import topics
from schemas.events import TOPIC_OF_EVENT_TYPE
from schemas.settings import Settings
from sinks.redis_keys import RedisKeys
from streams.admin.topic_admin import create_topics, delete_project_topics, wait_for_topics
from streams.worker.recovery_watch import EXIT_STALLED
from tests.redis_server import free_port

SCORESTREAM = str(Path(sys.executable).parent / "scorestream")
STOP_TIMEOUT_S = 30.0
"""A worker must stop this soon after SIGTERM."""


class Supervisor(threading.Thread):
    """Starts a worker, and again each time it ends with ``EXIT_STALLED``, until stopped."""

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        super().__init__(daemon=True)
        self._start, self._stopping = start, threading.Event()
        self.proc = start()
        self.restarts = 0

    def run(self) -> None:
        while not self._stopping.wait(0.5):
            if self.proc.poll() == EXIT_STALLED:
                self.restarts += 1
                self.proc = self._start()

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join()


@dataclass
class System:
    """One isolated run: its own consumer group, Redis prefix and data dir, fresh topics."""

    settings: Settings
    app_id: str
    prefix: str
    data_dir: Path
    log_dir: Path
    web_port: int

    @classmethod
    def fresh(cls, settings: Settings, tmp_path: Path) -> System:
        run = uuid.uuid4().hex[:8]
        system = cls(
            settings, f"test-{run}", f"test-{run}", tmp_path / "worker", tmp_path, free_port()
        )
        delete_project_topics(settings, system.app_id)
        report = create_topics(settings, settings.partitions)
        assert report.ok, report.to_dict()
        wait_for_topics(settings, topics.ALL_TOPICS)
        return system

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SCORESTREAM_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "SCORESTREAM_REDIS_URL": self.settings.redis_url,
            "SCORESTREAM_REDIS_PREFIX": self.prefix,
            "SCORESTREAM_LOG_FORMAT": "json",
        }

    def start_worker(self, *extra: str, clock: str = "event") -> subprocess.Popen[bytes]:
        """The real `scorestream worker`, its output in a log file of its own."""
        log_file = (self.log_dir / f"worker-{time.monotonic_ns()}.log").open("wb")
        try:
            return subprocess.Popen(
                [SCORESTREAM, "worker", "--clock", clock, "--data-dir", str(self.data_dir),
                 "--app-id", self.app_id, "--web-port", str(self.web_port), *extra],
                env=self.env(), stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log_file.close()  # the child has its own descriptor

    @contextmanager
    def worker(
        self, *extra: str, clock: str = "event", restart_stalled: bool = False
    ) -> Iterator[subprocess.Popen[bytes]]:
        """The real `scorestream worker` (event clock by default), stopped with SIGTERM on exit.
        With ``restart_stalled``, started again if it ends because its table recovery stalled,
        as its supervisor would (docker's restart policy, systemd); the process yielded is then
        the first one."""
        supervisor = Supervisor(lambda: self.start_worker(*extra, clock=clock))
        if restart_stalled:
            supervisor.start()
        try:
            yield supervisor.proc
        finally:
            supervisor.stop()
            proc = supervisor.proc
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGUSR1)  # the worker logs where its tasks wait
                time.sleep(1)
                proc.kill()
                proc.wait()
        # Only when the body passed: a worker that does not stop cleanly fails the test too
        # (a killed one stays in the consumer group, and the next waits out its session).
        assert proc.returncode == 0, (
            f"worker exit code {proc.returncode} after SIGTERM (-9: still running after "
            f"{STOP_TIMEOUT_S:g}s, killed)\nworker logs:\n{self.worker_logs()[-3000:]}"
        )

    def worker_logs(self, tail: int | None = 4000) -> str:
        """The worker logs, each cut to its last `tail` characters (None: whole)."""
        logs = sorted(self.log_dir.glob("worker-*.log"))
        return "\n".join(p.read_text(errors="replace")[-(tail or 0) :] for p in logs)

    def stall_report(self) -> str | None:
        """The workers' last ``recovery_stalled`` report, cut to what the fetch and the
        recovery waited on (None: no recovery stalled)."""
        lines = self.worker_logs(None).splitlines()
        stalls = [line for line in lines if "recovery_stalled" in line]
        if not stalls:
            return None
        report = orjson.loads(stalls[-1])
        fetching = ("recovery", "consumer", "conductor", "fetch", "aiokafka")
        report["waiting"] = [w for w in report["waiting"] if any(f in w for f in fetching)]
        return orjson.dumps(report).decode()

    def logs_and_stall(self, tail: int = 1400) -> str:
        """The worker logs' tails, then the last stall report if any: last, so that a
        failure's cut tail keeps it."""
        stall = self.stall_report()
        return self.worker_logs(tail) + (f"\nrecovery stalled: {stall}" if stall else "")

    def ready(self) -> bool:
        """The running worker answers /health with 200: recovered, assigned, Redis there."""
        url = f"http://127.0.0.1:{self.web_port}/health"
        try:
            return bool(urllib.request.urlopen(url, timeout=2).status == 200)
        except OSError:
            return False

    def events_in(self) -> float:
        """The running worker's count of consumed CRM messages."""
        return self.metric("scorestream_events_in_total")

    def metric(self, name: str) -> float:
        """A metric of the running worker's /metrics, summed over its labels (0 if down)."""
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        try:
            text = urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith((f"{name} ", f"{name}{{"))
        )

    def held(self) -> set[tuple[str, int]]:
        """The input partitions the running worker holds now (its lag gauge's labels)."""
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        try:
            text = urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            return set()
        return {
            (sample.labels["topic"], int(sample.labels["partition"]))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "scorestream_consumer_lag"
        }

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url)

    def cards(self) -> dict[tuple[str | None, str | None, str], dict[str, Any]]:
        """Every rep and team card in Redis, keyed like the replay's (rep_id, team_id, window)."""
        client = self.redis()
        out = {}
        for key in client.scan_iter(match=f"{self.prefix}:*card:*", count=1000):
            card = orjson.loads(client.get(key) or b"{}")
            out[(card.get("rep_id"), card["team_id"], card["window"])] = card
        return out

    def clear_redis(self) -> None:
        client = self.redis()
        for key in client.scan_iter(match=RedisKeys(self.prefix).match_all, count=1000):
            client.unlink(key)

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.read_topic(topics.DLQ)

    def read_topic(self, topic: str) -> list[dict[str, Any]]:
        """Every JSON message of ``topic`` from the beginning, read until it goes quiet."""
        consumer = Consumer(
            {"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": f"{self.app_id}-read",
             "enable.auto.commit": False},
        )  # fmt: skip
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        letters = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                value = msg.value()
                assert value is not None, f"{topic} has a message without a value"
                letters.append(orjson.loads(value))
                deadline = time.monotonic() + 2
        consumer.close()
        return letters


def produce_lines(bootstrap: str, lines: Iterable[bytes], timestamp_ms: int = 0) -> int:
    """A plain confluent-kafka producer: each line to its event type's topic, keyed by rep_id.

    A line that does not parse goes to crm.deals without a key, as a broken integration would.
    ``timestamp_ms`` dates the messages (0: now).
    """
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    count = 0
    for line in lines:
        topic, key = topics.DEALS, None
        try:
            body = orjson.loads(line)
            topic = TOPIC_OF_EVENT_TYPE.get(body.get("event_type"), topics.DEALS)
            key = str(body["rep_id"]).encode() if isinstance(body.get("rep_id"), str) else None
        except (orjson.JSONDecodeError, AttributeError):
            pass
        producer.produce(topic, value=line, key=key, timestamp=timestamp_ms)
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0
    return count


def wait_until(
    predicate: Any, timeout_s: float, what: str, logs: Any = None, poll_s: float = 1.0
) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except AssertionError as exc:
            last_error = exc
        time.sleep(poll_s)
    detail = f"\nlast mismatch: {last_error}" if last_error else ""
    tail = f"\nworker logs:\n{logs()[-3000:]}" if logs else ""
    raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}{detail}{tail}")
