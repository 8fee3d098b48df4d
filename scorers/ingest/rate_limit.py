"""Per-key token buckets: a steady rate with bursts, and how long to wait past it."""

from __future__ import annotations

import math


class RateLimiter:
    """``rate_per_s`` requests a second per key, bursts of ``burst``; keys are the configured
    API keys and hook sources, so the table stays as small as the configuration."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self._rate = rate_per_s
        self._burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now_s: float) -> int:
        """0 when ``key`` may go on now, else the whole seconds to wait (``Retry-After``)."""
        tokens, at = self._buckets.get(key, (self._burst, now_s))
        tokens = min(self._burst, tokens + (now_s - at) * self._rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now_s)
            return 0
        self._buckets[key] = (tokens, now_s)
        return max(1, math.ceil((1 - tokens) / self._rate))
