"""The rate limiter's buckets on a hand-moved clock: requests and failures per address."""

from __future__ import annotations

from streams.web.ratelimit import FAILURE_BURST, MAX_ADDRESSES, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_refill_at_their_rate_per_address() -> None:
    clock = Clock()
    limiter = RateLimiter(requests_per_s=10, clock=clock)
    allowed = sum(limiter.allow("a") for _ in range(400))
    assert allowed == 300  # the burst
    assert limiter.allow("b")  # another address has its own bucket
    clock.now += 1.0
    assert sum(limiter.allow("a") for _ in range(50)) == 10


def test_failures_lock_an_address_until_they_drain() -> None:
    clock = Clock()
    limiter = RateLimiter(failures_per_min=10, clock=clock)
    for _ in range(int(FAILURE_BURST)):
        assert limiter.allow("a")
        limiter.failed("a")
    assert not limiter.allow("a") and limiter.allow("b")
    assert 5 <= limiter.retry_after_s("a") <= 6  # one failure's worth: 6 s at 10 a minute
    clock.now += 6.0
    assert limiter.allow("a")


def test_idle_addresses_are_forgotten_so_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for n in range(MAX_ADDRESSES):
        limiter.allow(f"10.0.{n // 256}.{n % 256}")
    clock.now += 60.0  # every bucket full again
    limiter.allow("192.0.2.1")
    assert limiter.tracked == 1
