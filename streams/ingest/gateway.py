"""What a request needs, held once per process: the producer, the hooks, the directory,
the limits; and the steps every route shares (authenticate, read the body, store)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Final

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from schemas.ingest import IngestAnswer, Problem
from schemas.settings import Settings
from scorers.ingest.body import Parsed
from scorers.ingest.rate_limit import RateLimiter
from sinks.kafka_ingest import IngestProducer, KafkaBackpressure
from sinks.wire import encode_event
from streams.ingest.directory import DirectoryReader
from streams.ingest.hooks import Hook
from streams.ingest.metrics import IngestMetrics

log = structlog.get_logger(__name__)

RETRY_AFTER_S: Final = 5
"""What a 503 asks a client to wait: long enough for a broker restart to be noticed."""
REPLAY_WINDOW_S: Final = 300.0


class Refusal(Exception):
    """A request answered with a status and a problem; raised anywhere in a route."""

    def __init__(
        self, status: int, detail: str, *, retry_after_s: int | None = None,
        line: int | None = None, column: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(detail)
        self.status = status
        self.problem = Problem(detail=detail, line=line, column=column)
        self.retry_after_s = retry_after_s

    def response(self) -> Response:
        headers = {} if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        body = self.problem.model_dump(exclude_none=True)
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass
class Gateway:
    settings: Settings
    producer: IngestProducer
    directory: DirectoryReader
    hooks: dict[str, Hook]
    keys: list[str]
    metrics: IngestMetrics = field(default_factory=IngestMetrics)
    limiter: RateLimiter = field(init=False)
    _seen_signatures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rate = self.settings.ingest_rate_per_s
        self.limiter = RateLimiter(rate, burst=2 * rate)

    def limit(self, who: str) -> None:
        """429 once ``who`` (an authenticated key or source) goes past its rate."""
        wait_s = self.limiter.take(who, time.monotonic())
        if wait_s:
            raise Refusal(429, f"more than {self.settings.ingest_rate_per_s:g} requests a"
                          " second; slow down", retry_after_s=wait_s)  # fmt: skip

    async def read_body(self, request: Request) -> bytes:
        """The body, or 413 as soon as it passes the limit (never held whole past it)."""
        limit = self.settings.ingest_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def first_use(self, signature: str) -> bool:
        """Whether a signed request is new (a replay within the window is refused)."""
        now = time.monotonic()
        if len(self._seen_signatures) > 10_000:
            self._seen_signatures = {s: t for s, t in self._seen_signatures.items() if t > now}
        return self._seen_signatures.get(signature, 0.0) <= now

    def remember(self, signature: str) -> None:
        """A signed request that was stored: its replay is refused (only after success, so a
        retry of a request we answered 503 still goes through)."""
        self._seen_signatures[signature] = time.monotonic() + REPLAY_WINDOW_S

    async def store(self, parsed: Parsed, source: str) -> IngestAnswer:
        """Produce the valid events and wait for Kafka to have all of them; 503 otherwise."""
        messages = [encode_event(event) for _, event in parsed.events]
        started = time.monotonic()
        try:
            await self.producer.deliver(messages, self.settings.ingest_deadline_s)
        except KafkaBackpressure as exc:
            log.warning("ingest.not_stored", source=source, events=len(messages), error=str(exc))
            raise Refusal(503, str(exc), retry_after_s=exc.retry_after_s) from None
        if messages:
            self.metrics.produce_seconds.observe(time.monotonic() - started)
        self.metrics.accepted.labels(source).inc(len(messages))
        for rejection in parsed.rejected:
            self.metrics.rejected.labels(source, rejection.reason.value).inc()
        log.info("ingest.stored", source=source, accepted=len(messages),
                 rejected=[(r.line, r.reason.value) for r in parsed.rejected][:20])  # fmt: skip
        return IngestAnswer(accepted=len(messages), rejected=parsed.rejected)


def key_id(key: str) -> str:
    """A key's name in logs and the rate limiter: never the key itself."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _too_large(limit: int) -> Refusal:
    return Refusal(413, f"the body is larger than {limit} bytes; split it into smaller batches")
