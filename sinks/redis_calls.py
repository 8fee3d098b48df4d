"""The one way the worker talks to Redis: wait and retry while it is away, never give up.

The worker's state has already moved on when it writes to Redis, so a dropped write
would leave a card stale until the rep's next event, and a failed read would stop a
batch. Every Redis call of the worker goes through ``RedisCalls.run``: a connection
or timeout error waits (capped exponential backoff, logged at each attempt) and
tries again, for as long as it takes, and so does a server that refuses for now: out of
memory (``maxmemory`` reached), read-only (a replica since a failover), a cluster
resharding or down. Errors that waiting cannot fix (bad credentials, a wrong type) raise
``RedisStoreError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    TryAgainError,
)

from sinks.exceptions import RedisStoreError, RedisUnavailableError

T = TypeVar("T")

log = structlog.get_logger(__name__)

_WAITED_FOR = (
    redis.ConnectionError, redis.TimeoutError, OSError,
    OutOfMemoryError, ReadOnlyError, TryAgainError, ClusterDownError,
)  # fmt: skip
"""Redis away, or refusing until memory is freed or a failover or resharding ends. Raising
instead would leave the worker's batch unwritten and unacked while it read on: its events
unscored until a restart."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff between attempts while Redis is unreachable; attempts never run out."""

    first_delay_s: float = 0.1
    max_delay_s: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** min(attempt - 1, 30))


def client_options() -> dict[str, Any]:
    """How a worker's Redis client is made (``streams.runtime.connections``): its own retries off,
    since ``RedisCalls`` is the one place that retries, logs each attempt and never gives
    up; timeouts bound a call to a hung server."""
    return {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": 5, "socket_timeout": 10}


class RedisCalls:
    def __init__(self, client: redis.asyncio.Redis, retry: RetryPolicy | None = None) -> None:
        self.client = client
        self.retry = retry or RetryPolicy()
        self.available = True
        """False from a failed attempt until the next call succeeds: /health says degraded."""

    async def run(self, what: str, call: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        """``call(client)``, retried through connection errors until it succeeds."""
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await call(self.client)
            except (AuthenticationError, AuthorizationError) as exc:
                # Subclasses of ConnectionError, but waiting will not fix credentials.
                raise RedisStoreError(f"Redis rejected our credentials ({what}): {exc}") from exc
            except _WAITED_FOR as exc:
                self.available = False
                delay = self.retry.delay(attempt)
                log.warning(
                    "redis.retry", what=what, attempt=attempt, retry_in_s=delay, error=str(exc)
                )
                await asyncio.sleep(delay)
                continue
            except RedisError as exc:
                raise RedisStoreError(f"Redis refused {what}: {exc}") from exc
            if not self.available:
                log.info("redis.recovered", what=what, attempts=attempt)
            self.available = True
            return result

    async def aclose(self) -> None:
        await self.client.aclose()


@contextmanager
def translated(what: str) -> Iterator[None]:
    """redis-py errors as ours, for readers that do not retry (a page, a CLI, a token check):
    unavailable (start Redis) versus refused (fix the data)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise RedisUnavailableError(f"reading {what}: {exc}") from exc
    except RedisError as exc:
        raise RedisStoreError(f"reading {what}: {exc}") from exc


def text(value: bytes | str | Any) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
