"""One channel's lane: sends one alert at a time, retries, parks, and records each outcome.

One send in flight per channel is what bounds repeats: a process killed between a
receiver's answer and the record of it repeats that one send when the alert is
redelivered, so each kill adds at most one repeat per channel. Channels do not wait for
each other: each has its own lane, and a channel that stays down costs one retry budget
(``retry_for_s``), after which its alerts are parked at once until a background probe
(``redrive_parked``) finds the receiver back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

import structlog

from schemas.outputs import CoachingAlert
from sinks.exceptions import Refused, RetryLater
from sinks.redis_notify import NotifyStore, Parked, ParkReason
from streams.notify.metrics import NotifyMetrics

log = structlog.get_logger(__name__)

RETRY_AFTER_CAP_S: Final = 3600.0
"""A Retry-After longer than this is read as this: a receiver's typo must not park for days."""


class AlertSender(Protocol):
    """A channel's client in ``sinks/``: returns once the receiver took the alert, raises
    ``RetryLater`` or ``Refused`` otherwise."""

    async def send(self, alert: CoachingAlert) -> None: ...

    async def send_digest(self, alerts: list[CoachingAlert]) -> None:
        """The alerts in one message: the channel's daily digest."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: half the step fixed, half random, so instances that
    failed together do not retry together, and no retry comes right on top of the failure."""

    first_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        step = min(self.max_s, self.first_s * 2.0 ** min(attempt - 1, 30))
        return step / 2 + rng.uniform(0, step / 2)


def _now() -> datetime:
    return datetime.now(UTC)


class ChannelLane:
    def __init__(
        self,
        name: str,
        sender: AlertSender,
        store: NotifyStore,
        metrics: NotifyMetrics,
        *,
        retry_for_s: float,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = _now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.name, self.sender, self.store, self.metrics = name, sender, store, metrics
        self.retry_for_s = retry_for_s
        self.backoff = backoff or Backoff()
        self.clock, self.sleep = clock, sleep
        self.rng = rng or random.Random()
        self.lock = asyncio.Lock()
        """Held for one alert's whole send: one request in flight per channel."""
        self.down = False
        self.probes = 0
        self.next_probe_s = 0.0
        self.log = log.bind(channel=name)
        metrics.channel_up.labels(name).set(1)

    async def deliver(
        self, alert: CoachingAlert, not_before: datetime | None = None, *, digest: bool = False
    ) -> str:
        """Send ``alert`` unless it was sent or parked before; returns what happened
        (``sent``, ``repeat``, ``parked:<reason>``). Every outcome is recorded first."""
        async with self.lock:
            if await self.store.handled(self.name, alert.alert_id):
                self.metrics.repeats.labels(self.name).inc()
                return "repeat"
            if digest:
                return await self._park(alert, "digest", not_before=not_before)
            if not_before is not None and not_before > self.clock():
                return await self._park(alert, "held", not_before=not_before)
            if self.down:  # a probe finds it back; until then the lane does not wait
                return await self._park(alert, "down", answer="channel down")
            return await self._send(alert, self.retry_for_s)

    async def redrive_one(self, parked: Parked, *, budget_s: float = 0.0) -> str:
        """Send a parked alert again (one attempt unless ``budget_s``); returns the outcome."""
        async with self.lock:
            if await self.store.is_sent(self.name, parked.alert.alert_id):
                return "repeat"
            return await self._send(parked.alert, budget_s, parked.parked_at)

    async def send_digest(self, parked: list[Parked]) -> str:
        """The due digest in one message (one attempt): ``sent`` records every alert in it;
        a failure leaves them parked for the next probe, a refusal parks them as refused."""
        async with self.lock:
            alerts = [p.alert for p in parked
                      if not await self.store.is_sent(self.name, p.alert.alert_id)]  # fmt: skip
            if not alerts:
                return "repeat"
            try:
                await self.sender.send_digest(alerts)
            except Refused as exc:
                self.log.warning(
                    "digest refused; parked until `scorestream notify redrive`",
                    alerts=len(alerts), status=exc.status, answer=exc.answer,
                )  # fmt: skip
                for alert in alerts:
                    await self._park(alert, "refused", status=exc.status, answer=exc.answer)
                return "parked:refused"
            except RetryLater as exc:
                self._mark_down(exc)
                return "parked:down"
            await self._sent(alerts, 1)
            return "sent"

    def probe_due(self) -> bool:
        return not self.down or time.monotonic() >= self.next_probe_s

    async def _send(
        self, alert: CoachingAlert, budget_s: float, parked_at: datetime | None = None
    ) -> str:
        """Send with retries for ``budget_s``; a redriven alert keeps its ``parked_at``, so
        parked alerts keep going out oldest first."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.sender.send(alert)
            except Refused as exc:
                # Logged once, here: the answer stays with the parked alert for redrive.
                self.log.warning("alert refused; parked until `scorestream notify redrive`",
                                 alert_id=alert.alert_id, status=exc.status,
                                 answer=exc.answer)  # fmt: skip
                return await self._park(alert, "refused", status=exc.status, answer=exc.answer,
                                        parked_at=parked_at)  # fmt: skip
            except RetryLater as exc:
                wait = self._wait_s(exc, attempt)
                if time.monotonic() - started + wait > budget_s:
                    self._mark_down(exc)
                    return await self._park(alert, "down", answer=str(exc), parked_at=parked_at)
                self.metrics.retried.labels(self.name).inc()
                self.log.info("send failed; retrying", alert_id=alert.alert_id,
                              reason=str(exc), retry_in_s=round(wait, 2))  # fmt: skip
                await self.sleep(wait)
                continue
            await self._sent([alert], attempt)
            return "sent"

    def _wait_s(self, exc: RetryLater, attempt: int) -> float:
        if exc.retry_after_s is not None:  # the receiver said when; jitter would only delay
            return min(exc.retry_after_s, RETRY_AFTER_CAP_S)
        return self.backoff.delay(attempt, self.rng)

    async def _sent(self, alerts: list[CoachingAlert], attempts: int) -> None:
        """Record the alerts (one, or a digest's) as sent; the channel is up again."""
        now = self.clock()
        await self.store.record_sent(self.name, [a.alert_id for a in alerts], now, 200,
                                          attempts)  # fmt: skip
        self.metrics.sent.labels(self.name).inc(len(alerts))
        for alert in alerts:
            self.metrics.latency.labels(self.name).observe(
                max(0.0, (now - alert.raised_at).total_seconds())
            )
        if self.down:
            self.log.info("channel back", probes=self.probes)
        self.down, self.probes = False, 0
        self.metrics.channel_up.labels(self.name).set(1)

    def _mark_down(self, exc: RetryLater) -> None:
        if not self.down:
            self.log.warning("channel down; parking its alerts and probing", reason=str(exc))
        self.down = True
        self.probes += 1
        # Not before the receiver's own Retry-After: probing earlier only earns another 429.
        wait = max(self.backoff.delay(self.probes, self.rng), self._wait_s(exc, self.probes))
        self.next_probe_s = time.monotonic() + wait
        self.metrics.channel_up.labels(self.name).set(0)

    async def _park(
        self,
        alert: CoachingAlert,
        reason: ParkReason,
        *,
        status: int | None = None,
        answer: str | None = None,
        not_before: datetime | None = None,
        parked_at: datetime | None = None,
    ) -> str:
        parked = Parked(alert, reason, parked_at or self.clock(), status, answer, not_before)
        await self.store.park(self.name, parked)
        self.metrics.parked.labels(self.name, reason).inc()
        return f"parked:{reason}"
