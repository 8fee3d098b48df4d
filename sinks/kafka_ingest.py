"""Produce a request's events and wait, without blocking the event loop, until Kafka has
every one of them: the gateway answers 2xx only then.

confluent-kafka's ``produce`` only queues; delivery reports come from ``poll``, which this
sink runs on a thread of its own. A batch's reports are counted there and the waiting
request is woken once, when the last one arrives (one loop wake-up per batch, not per
event). The producer is idempotent with ``acks=all``: its own retries never duplicate an
event, and a delivered event is on every in-sync replica.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from sinks.exceptions import KafkaDeliveryError
from sinks.kafka_events import PRODUCER_DEFAULTS
from sinks.wire import WireMessage

log = structlog.get_logger(__name__)

POLL_S: Final = 0.05
"""How long the delivery thread waits in ``poll``: the latency it adds to an answer at most."""
QUEUE_KBYTES: Final = 65_536
"""librdkafka's queue bound (64 MiB): while Kafka is away, memory stops here and requests
get 503 at once instead of queueing without end."""
MESSAGE_TIMEOUT_MS: Final = 120_000
"""An event Kafka has not taken after two minutes is failed by librdkafka: its request was
answered 503 long before, and the client retries it."""

DOWN_RECHECK_S: Final = 2.0
"""While every broker is reported down, how often a health check asks Kafka again: often
enough that a balancer sends traffic back within seconds, rare enough to cost nothing."""
METADATA_TIMEOUT_S: Final = 1.0
"""How long that one metadata request may take: a health check must answer fast."""

INGEST_PRODUCER: Final[dict[str, Any]] = {
    **PRODUCER_DEFAULTS,
    "acks": "all",
    "enable.idempotence": True,
    "queue.buffering.max.kbytes": QUEUE_KBYTES,
    "message.timeout.ms": MESSAGE_TIMEOUT_MS,
}


class KafkaBackpressure(KafkaDeliveryError):
    """Kafka did not take a batch in time, refused it, or our queue is full: answer 503."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Batch:
    """One request's outstanding deliveries, counted down on the delivery thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        self.remaining = size
        self.error: str | None = None
        self._lock = threading.Lock()

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None and self.error is None:
            self.error = f"{msg.topic()}: {err.str()}"
        self.count_down(1)

    def count_down(self, count: int) -> None:
        """``count`` reports are in (or will never come): wake the request after the last."""
        with self._lock:
            self.remaining -= count
            last = self.remaining == 0
        if last:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class IngestProducer:
    """The gateway's one producer; ``deliver`` returns when Kafka has a whole batch."""

    def __init__(
        self, connection: Mapping[str, Any], *, retry_after_s: int, client_id: str
    ) -> None:
        self._config = {**INGEST_PRODUCER, **connection, "client.id": client_id,
                        "error_cb": self._on_error}  # fmt: skip
        self._producer = Producer(self._config)
        self._retry_after_s = retry_after_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="ingest-deliveries", daemon=True)
        self.brokers_down = False
        """librdkafka said every broker is down, and no delivery nor metadata answer since."""
        self._recheck_at = 0.0
        self._rechecking = threading.Lock()
        self._fatal: str | None = None
        self._last_error: int | None = None
        self._thread.start()

    async def deliver(self, messages: Sequence[WireMessage], timeout_s: float) -> None:
        """Produce ``messages`` and wait for every delivery report.

        Raises ``KafkaBackpressure`` when a report is an error, the queue is full, or the
        last report is not in within ``timeout_s``; events of such a batch may still reach
        Kafka later, which a retry makes harmless (the worker drops repeated event ids).
        """
        if not messages:
            return
        if self._fatal is not None:
            # An idempotent producer's fatal error (fenced, sequence lost) refuses every later
            # produce: start over with a new one (the delivery thread polls whichever is set).
            log.error("ingest.producer_replaced", error=self._fatal)
            self._producer, self._fatal = Producer(self._config), None
        batch = _Batch(asyncio.get_running_loop(), len(messages))
        deadline = time.monotonic() + timeout_s
        for sent, message in enumerate(messages):
            try:
                self._producer.produce(
                    message.topic, value=message.value, key=message.key,
                    on_delivery=batch.on_delivery,
                )  # fmt: skip
            except BufferError:
                batch.count_down(len(messages) - sent)
                raise KafkaBackpressure(
                    "the gateway's queue to Kafka is full (Kafka slow or away); retry later",
                    self._retry_after_s,
                ) from None
        try:
            await asyncio.wait_for(
                asyncio.shield(batch.done), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            raise KafkaBackpressure(
                f"Kafka did not acknowledge the events within {timeout_s:g}s; retry later",
                self._retry_after_s,
            ) from None
        if batch.error is not None:
            raise KafkaBackpressure(f"Kafka refused an event ({batch.error})", self._retry_after_s)
        self.brokers_down, self._last_error = False, None

    def brokers_reachable(self) -> bool:
        """Whether Kafka answers, for health checks; blocks up to ``METADATA_TIMEOUT_S``.

        Once librdkafka has said every broker is down, only a delivery or this check clears
        it: librdkafka signals no reconnection, and an instance a balancer has taken out of
        service gets no request to deliver. So while down, a metadata request (at most one
        every ``DOWN_RECHECK_S``; meanwhile, and while one is running, the answer is "no")
        finds out whether a broker is back.
        """
        if not self.brokers_down:
            return True
        now = time.monotonic()
        if now < self._recheck_at or not self._rechecking.acquire(blocking=False):
            return False
        try:
            self._recheck_at = now + DOWN_RECHECK_S
            self._producer.list_topics(timeout=METADATA_TIMEOUT_S)
        except KafkaException:
            return False
        finally:
            self._rechecking.release()
        log.info("ingest.kafka_reachable")
        self.brokers_down, self._last_error = False, None
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop the delivery thread."""
        self._stop.set()
        self._thread.join()
        left = self._producer.flush(timeout_s)
        if left:
            log.warning("ingest.undelivered_at_stop", messages=left)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(POLL_S)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.brokers_down = True
        if error.fatal():
            self._fatal = error.str()
        elif error.code() != self._last_error:  # librdkafka repeats an outage's error
            log.warning("ingest.kafka_error", error=error.str())
        self._last_error = error.code()
