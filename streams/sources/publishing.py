"""Send a stream of CRM messages to Kafka or a JSONL file, counting as it goes.

Shared by ``scorestream simulate`` and ``scorestream import-crm``: the commands
decide what to send, this module sends it and says what happened. Blocking, for
CLI use only.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import structlog

from schemas.events import TOPIC_OF_EVENT_TYPE, Event
from schemas.settings import Settings
from sinks.jsonl_events import JsonlEventWriter
from sinks.kafka_events import DeliveryReport, KafkaEventProducer
from sinks.wire import WireMessage
from streams.admin.topic_admin import cluster_metadata
from streams.runtime import connections
from streams.runtime.exceptions import TopicsError
from streams.sources.event_stats import EventStats

log = structlog.get_logger(__name__)

Item: TypeAlias = Event | WireMessage
"""Anything a sink accepts: a valid event or a ready (possibly malformed) wire message."""
ProgressCallback = Callable[[EventStats, Item], None]
"""Called now and then (not per message) with the counts so far and the last item."""


class EventSink(Protocol):
    def send(self, item: Item) -> None: ...


@dataclass
class PublishResult:
    """What was sent, where to, and whether the broker took it all."""

    stats: EventStats
    destination: dict[str, Any]
    delivery: DeliveryReport | None
    interrupted: bool
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.delivery is None or self.delivery.ok

    def to_dict(self) -> dict[str, Any]:
        rate = self.stats.total / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return {
            **self.stats.to_dict(),
            "destination": self.destination,
            "delivery": None if self.delivery is None else self.delivery.to_dict(),
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(rate, 1),
        }


def require_topics(settings: Settings, timeout_s: float = 10.0) -> None:
    """Fail fast, before producing anything, if the broker is down, refuses our credentials
    or certificate, or a CRM topic is missing.

    The broker does not auto-create topics, so without this check every message to a
    missing topic would wait out librdkafka's delivery timeout and then fail.
    """
    bootstrap = settings.kafka_bootstrap
    admin = connections.kafka_admin(settings, timeout_s=timeout_s)
    metadata = cluster_metadata(admin, bootstrap, timeout_s)
    missing = sorted(set(TOPIC_OF_EVENT_TYPE.values()) - set(metadata.topics))
    if missing:
        raise TopicsError(
            f"topics missing on {bootstrap}: {', '.join(missing)};"
            " create them with `scorestream topics create`"
        )


def open_sink(out: Path | None, settings: Settings, client_id: str) -> EventSink:
    """A JSONL writer when ``out`` is given, else a Kafka producer (topics checked first)."""
    if out is not None:
        return JsonlEventWriter(out)
    require_topics(settings)
    return KafkaEventProducer(connections.kafka_config(settings), client_id=client_id)


def publish(
    items: Iterable[Item],
    sink: EventSink,
    *,
    on_progress: ProgressCallback | None = None,
    progress_every_s: float = 0.2,
    flush_timeout_s: float = 30.0,
) -> PublishResult:
    """Send every item, then flush or close the sink; Ctrl-C stops sending, not flushing."""
    stats = EventStats()
    started = time.monotonic()
    next_progress = started
    interrupted = False
    item: Item | None = None
    try:
        with _sigterm_as_interrupt():
            for item in items:
                stats.observe(item)
                sink.send(item)
                if on_progress is not None and time.monotonic() >= next_progress:
                    on_progress(stats, item)
                    next_progress = time.monotonic() + progress_every_s
    except KeyboardInterrupt:
        interrupted = True
        log.info("publish.interrupted", sent=stats.total)
    except BaseException:
        _finish(sink, flush_timeout_s)  # deliver what was sent, close the file, then fail
        raise
    if on_progress is not None and item is not None:
        on_progress(stats, item)
    destination, delivery = _finish(sink, flush_timeout_s)
    return PublishResult(stats, destination, delivery, interrupted, time.monotonic() - started)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``docker stop``, ``kill``) stops sending like Ctrl-C, so queued messages
    are still flushed and the summary printed. Background jobs of a shell ignore SIGINT,
    so SIGTERM is the signal that reaches them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(
    sink: EventSink, flush_timeout_s: float
) -> tuple[dict[str, Any], DeliveryReport | None]:
    if isinstance(sink, KafkaEventProducer):
        report = sink.flush(flush_timeout_s)
        return {"kind": "kafka", "bootstrap": sink.bootstrap}, report
    if isinstance(sink, JsonlEventWriter):
        sink.close()
        return {"kind": "file", "path": str(sink.path), "lines": sink.lines}, None
    return {"kind": type(sink).__name__}, None
