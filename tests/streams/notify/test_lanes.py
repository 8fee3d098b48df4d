"""A channel's lane against a real receiver and the real Redis: retries as the receiver
asks, parks what cannot go, records every outcome, sends nothing twice, and a dead channel
never holds up another."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks import Webhook

from schemas.settings import Settings
from sinks.notify_webhook import StandardWebhookSender
from sinks.redis_calls import RedisCalls, client_options
from sinks.redis_notify import NotifyStore
from streams.notify.lanes import Backoff, ChannelLane
from streams.notify.metrics import NotifyMetrics
from streams.notify.redrive import redrive_all, redrive_channel
from streams.runtime import connections
from tests.notify_receiver import Answer, Receiver, always, first, receiver
from tests.sinks.alerts import make_alert

pytestmark = pytest.mark.redis

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
FAST = Backoff(first_s=0.05, max_s=0.2)


@pytest.fixture(name="store")
async def fixture_store(settings: Settings, redis_url: str) -> AsyncIterator[NotifyStore]:
    client = connections.redis_client(settings, **client_options())
    store = NotifyStore(RedisCalls(client), f"test-notify-{uuid.uuid4().hex[:8]}")
    try:
        yield store
    finally:
        async for key in client.scan_iter(match=f"{store.keys.prefix}:*"):
            await client.unlink(key)
        await store.calls.aclose()


def lane(store: NotifyStore, client: httpx.AsyncClient, hook: Receiver, *, name: str = "floor",
         timeout_s: float = 2, retry_for_s: float = 3) -> ChannelLane:  # fmt: skip
    sender = StandardWebhookSender(client, hook.url, SECRET, timeout_s)
    return ChannelLane(name, sender, store, NotifyMetrics(), retry_for_s=retry_for_s,
                       backoff=FAST)  # fmt: skip


async def test_500s_then_recovery_is_one_delivery_recorded(store: NotifyStore) -> None:
    alert = make_alert()
    with receiver(first(3, Answer(500))) as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook)
            assert await floor.deliver(alert) == "sent"
            assert await floor.deliver(alert) == "repeat"  # a redelivery: nothing sent
    assert [r.status for r in hook.requests] == [500, 500, 500, 200]
    assert {r.headers["webhook-id"] for r in hook.requests} == {alert.alert_id}
    assert await store.is_sent("floor", alert.alert_id)
    assert floor.metrics.retried.labels("floor")._value.get() == 3


async def test_429_waits_as_long_as_retry_after_says(store: NotifyStore) -> None:
    with receiver(first(1, Answer(429, {"Retry-After": "1"}))) as hook:
        async with httpx.AsyncClient() as client:
            assert await lane(store, client, hook).deliver(make_alert()) == "sent"
    gap = hook.requests[1].at - hook.requests[0].at
    assert 1.0 <= gap < 2.0, gap


async def test_a_hung_receiver_times_out_and_is_tried_again(store: NotifyStore) -> None:
    with receiver(first(1, Answer(200, delay_s=3))) as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook, timeout_s=0.5)
            assert await floor.deliver(make_alert()) == "sent"
    assert len(hook.requests) == 2


async def test_a_revoked_webhook_is_parked_with_its_answer(store: NotifyStore) -> None:
    alert = make_alert()
    with receiver(always(Answer(404, body=b"no_such_hook"))) as hook:
        async with httpx.AsyncClient() as client:
            assert await lane(store, client, hook).deliver(alert) == "parked:refused"
    assert len(hook.requests) == 1  # never retried: sending again cannot help
    (parked,) = await store.parked("floor")
    assert (parked.reason, parked.status, parked.answer) == ("refused", 404, "no_such_hook")
    assert parked.alert == alert


async def test_a_channel_that_stays_down_parks_then_sends_when_back(store: NotifyStore) -> None:
    alerts = [make_alert(alert_id=f"a{i}") for i in range(3)]
    with receiver(always(Answer(503))) as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook, retry_for_s=0.5)
            started = time.monotonic()
            outcomes = [await floor.deliver(a) for a in alerts]
            # One retry budget for the first; the others park at once: nothing waits on it.
            assert time.monotonic() - started < 1.5
            assert outcomes == ["parked:down"] * 3 and floor.down
            tried = len(hook.requests)
            hook.script = always(Answer(200))
            await asyncio.sleep(FAST.max_s)  # the probe's backoff
            outcomes_back = await redrive_channel(floor, "token")
    assert outcomes_back["sent"] == 3 and not floor.down
    assert [r.headers["webhook-id"] for r in hook.requests[tried:]] == ["a0", "a1", "a2"]
    assert await store.parked("floor") == []
    assert all([await store.is_sent("floor", a.alert_id) for a in alerts])


async def test_quiet_hours_hold_an_alert_until_it_is_due(store: NotifyStore) -> None:
    alert = make_alert()
    with receiver() as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook)
            later = datetime.now(UTC) + timedelta(seconds=1)
            assert await floor.deliver(alert, later) == "parked:held"
            assert (await redrive_channel(floor, "t")).get("sent") is None  # not yet due
            await asyncio.sleep(1.1)
            assert (await redrive_channel(floor, "t"))["sent"] == 1
    assert len(hook.requests) == 1


async def test_redrive_sends_refused_alerts_once_fixed(store: NotifyStore) -> None:
    alert = make_alert()
    with receiver(first(1, Answer(410))) as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook)
            assert await floor.deliver(alert) == "parked:refused"
            assert (await redrive_channel(floor, "t")).get("sent") is None  # waits for a person
            report = await redrive_all({"floor": floor})
            again = await redrive_all({"floor": floor})
    assert report["floor"]["sent"] == 1 and not again["floor"]
    assert len(hook.requests) == 2


async def test_a_dead_receiver_does_not_hold_up_another(store: NotifyStore) -> None:
    with receiver(always(Answer(200, delay_s=5))) as dead, receiver() as alive:
        async with httpx.AsyncClient() as client:
            slow = lane(store, client, dead, name="slow", timeout_s=1, retry_for_s=1)
            fast = lane(store, client, alive, name="fast")
            alerts = [make_alert(alert_id=f"b{i}") for i in range(5)]

            async def drain(target: ChannelLane) -> float:
                for alert in alerts:
                    await target.deliver(alert)
                return time.monotonic()

            started = time.monotonic()
            slow_done, fast_done = await asyncio.gather(drain(slow), drain(fast))
    assert fast_done - started < 1.0  # did not wait for the hung receiver
    assert len(alive.answered()) == 5
    assert slow_done - started < 4.0  # one budget, then parked at once
    assert len(await store.parked("slow")) == 5


async def test_sends_older_than_the_horizon_are_forgotten(store: NotifyStore) -> None:
    now = datetime.now(UTC)
    await store.record_sent("floor", ["old"], now - timedelta(days=40), 200, 1)
    await store.record_sent("floor", ["new"], now - timedelta(days=1), 200, 1)
    assert await store.prune("floor", now) == 1
    assert not await store.is_sent("floor", "old") and await store.is_sent("floor", "new")
    assert await store.prune("floor", now) == 0


async def test_a_digest_is_one_signed_message_with_every_alert_due(store: NotifyStore) -> None:
    alerts = [make_alert(alert_id=f"d{i}") for i in range(3)]
    due = datetime.now(UTC) + timedelta(seconds=1)
    with receiver() as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook)
            assert [await floor.deliver(a, due, digest=True) for a in alerts] == [
                "parked:digest"
            ] * 3
            assert not (await redrive_channel(floor, "t")) and not hook.requests  # not yet
            await asyncio.sleep(1.1)
            assert (await redrive_channel(floor, "t"))["digest sent"] == 1
            assert await floor.deliver(alerts[0], due, digest=True) == "repeat"
            assert not await redrive_channel(floor, "t")
    (request,) = hook.requests
    body = Webhook(SECRET).verify(request.body, request.headers)
    assert body["type"] == "digest" and request.headers["webhook-id"] == body["digest_id"]
    assert [a["alert_id"] for a in body["alerts"]] == ["d0", "d1", "d2"]
    assert await store.parked("floor") == []
    assert all([await store.is_sent("floor", a.alert_id) for a in alerts])


async def test_a_retry_after_beyond_the_budget_parks_and_is_honoured_by_the_probe(
    store: NotifyStore,
) -> None:
    with receiver(first(1, Answer(429, {"Retry-After": "2"}))) as hook:
        async with httpx.AsyncClient() as client:
            floor = lane(store, client, hook, retry_for_s=0.5)
            assert await floor.deliver(make_alert()) == "parked:down"
            await asyncio.sleep(1.0)
            assert not floor.probe_due()  # the receiver asked for 2 s
            await asyncio.sleep(1.1)
            assert floor.probe_due()
            assert (await redrive_channel(floor, "t"))["sent"] == 1
    assert [r.status for r in hook.requests] == [429, 200]
