from __future__ import annotations

from scorers.ingest.rate_limit import RateLimiter


def test_bursts_then_the_steady_rate() -> None:
    limiter = RateLimiter(rate_per_s=2, burst=4)
    assert [limiter.take("k", 0.0) for _ in range(5)] == [0, 0, 0, 0, 1]
    assert limiter.take("k", 0.5) == 0  # one token back after half a second
    assert limiter.take("k", 0.5) == 1
    assert limiter.take("other", 0.5) == 0  # keys are apart


def test_retry_after_is_whole_seconds_until_a_token() -> None:
    limiter = RateLimiter(rate_per_s=0.1, burst=1)
    assert limiter.take("k", 0.0) == 0
    assert limiter.take("k", 1.0) == 9
