"""Rate limits per client address: requests in general, failed credentials above all.

Token buckets in this process's memory: each ``serve`` limits what reaches it, which is
what stops a guesser (a wrong token costs ``FAILURE_COST`` requests' worth, and a few
wrong ones in a row lock the address out for a while). Behind a proxy the address is
the one the proxy forwards (``serve --proxy-headers``), else every client would share one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

REQUESTS_PER_S: Final = 50.0
"""Steady requests per address: a sales floor's TVs behind one NAT stay far below it."""
REQUEST_BURST: Final = 300.0
FAILURES_PER_MIN: Final = 10.0
"""Wrong tokens or sign-ins per address and minute before it has to wait."""
FAILURE_BURST: Final = 10.0
MAX_ADDRESSES: Final = 10_000
"""Buckets kept; beyond it the full ones (idle addresses) are forgotten."""


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float

    def refill(self, now: float, rate_per_s: float, burst: float) -> None:
        self.level = min(burst, self.level + (now - self.at) * rate_per_s)
        self.at = now


class RateLimiter:
    def __init__(
        self,
        requests_per_s: float = REQUESTS_PER_S,
        failures_per_min: float = FAILURES_PER_MIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requests = (requests_per_s, max(REQUEST_BURST, requests_per_s))
        self._failures = (failures_per_min / 60, FAILURE_BURST)
        self._clock = clock
        self._request_buckets: dict[str, _Bucket] = {}
        self._failure_buckets: dict[str, _Bucket] = {}

    @property
    def tracked(self) -> int:
        """Addresses with a request bucket (at most ``MAX_ADDRESSES`` and one)."""
        return len(self._request_buckets)

    def allow(self, address: str) -> bool:
        """Whether a request from ``address`` may go on now (it uses up one)."""
        if self._level(self._failure_buckets, address, self._failures) < 1:
            return False
        bucket = self._bucket(self._request_buckets, address, self._requests)
        if bucket.level < 1:
            return False
        bucket.level -= 1
        return True

    def failed(self, address: str) -> None:
        """A wrong credential from ``address``."""
        bucket = self._bucket(self._failure_buckets, address, self._failures)
        bucket.level = max(0.0, bucket.level - 1)

    def retry_after_s(self, address: str) -> float:
        """Seconds until ``address`` may try again."""
        failures = self._level(self._failure_buckets, address, self._failures)
        requests = self._level(self._request_buckets, address, self._requests)
        return max((1 - failures) / self._failures[0], (1 - requests) / self._requests[0], 1.0)

    def _level(
        self, buckets: dict[str, _Bucket], address: str, limit: tuple[float, float]
    ) -> float:
        return self._bucket(buckets, address, limit).level

    def _bucket(
        self, buckets: dict[str, _Bucket], address: str, limit: tuple[float, float]
    ) -> _Bucket:
        now = self._clock()
        bucket = buckets.get(address)
        if bucket is None:
            if len(buckets) >= MAX_ADDRESSES:
                self._forget_idle(buckets, now, limit)
            bucket = buckets[address] = _Bucket(limit[1], now)
        bucket.refill(now, *limit)
        return bucket

    @staticmethod
    def _forget_idle(buckets: dict[str, _Bucket], now: float, limit: tuple[float, float]) -> None:
        for address, bucket in list(buckets.items()):
            bucket.refill(now, *limit)
            if bucket.level >= limit[1]:
                del buckets[address]
