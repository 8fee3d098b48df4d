"""The delivery service in-process on the real Kafka and Redis: a hung receiver holds back
only its own channel, offsets are committed once deliveries are recorded, and bytes that
are not an alert are skipped and counted."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.routes import ChannelSecrets, parse_routes
from schemas.settings import Settings
from sinks.redis_calls import RedisCalls, client_options
from sinks.redis_notify import NotifyStore
from streams.notify.channels import build_lanes
from streams.notify.metrics import NotifyMetrics
from streams.notify.service import NotifyService
from streams.runtime import connections
from tests.conftest import MakeTopic, wait_for_topic
from tests.notify_receiver import Answer, always, receiver
from tests.sinks.alerts import make_alert
from tests.streams.notify.test_lanes import SECRET

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

ROUTES = parse_routes("""\
channels:
  slow: {type: webhook, url_env: S, secret_env: SS, timeout_s: 1, retry_for_s: 1}
  fast: {type: webhook, url_env: F, secret_env: FS}
routes:
  - to: [slow, fast]
""")


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


async def test_a_hung_channel_holds_back_only_its_own_alerts(
    settings: Settings, make_topic: MakeTopic, store: NotifyStore
) -> None:
    topic = make_topic(partitions=1)
    alerts = [make_alert(alert_id=f"s{i}") for i in range(5)]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(topic, b"not an alert", key=b"x")
    for alert in alerts:
        producer.produce(topic, alert.model_dump_json().encode(), key=alert.rep_id.encode())
    assert producer.flush(10) == 0
    group = f"test-notify-{uuid.uuid4().hex[:8]}"
    metrics = NotifyMetrics()
    with receiver(always(Answer(200, delay_s=4))) as slow, receiver() as fast:
        secrets = {
            "slow": ChannelSecrets.model_validate({"url": slow.url, "secret": SECRET}),
            "fast": ChannelSecrets.model_validate({"url": fast.url, "secret": SECRET}),
        }
        async with httpx.AsyncClient() as client:
            lanes = build_lanes(ROUTES, secrets, store, metrics, client)
            service = NotifyService(settings, ROUTES, lanes, metrics, group_id=group, topic=topic)
            stop = asyncio.Event()
            task = asyncio.create_task(service.run(stop))
            started = time.monotonic()
            while len(fast.answered()) < len(alerts) and time.monotonic() - started < 20:
                await asyncio.sleep(0.1)
            fast_s = time.monotonic() - started
            while len(await store.parked("slow")) < len(alerts) and time.monotonic() - started < 30:
                await asyncio.sleep(0.2)
            stop.set()
            await asyncio.wait_for(task, 30)
    assert [r.headers["webhook-id"] for r in fast.answered()] == [a.alert_id for a in alerts]
    # The slow channel waits out one timeout and one retry budget, then parks at once; the
    # fast one never waits for it (it was done while the first slow request still hung).
    assert fast_s < 4.0, fast_s
    assert {p.alert.alert_id for p in await store.parked("slow")} == {a.alert_id for a in alerts}
    assert metrics.unreadable._value.get() == 1
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    (committed,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    consumer.close()
    assert committed.offset == 1 + len(alerts)  # everything recorded, so all committed


async def test_a_topic_created_after_start_is_found_within_seconds(
    settings: Settings, kafka_admin: AdminClient, store: NotifyStore
) -> None:
    """notify may start before `topics create` (compose, a fresh cluster): it must not wait
    librdkafka's default five minutes to see the topic."""
    topic = f"test.notify-late.{uuid.uuid4().hex[:8]}"
    routes = parse_routes("channels:\n  fast: {type: webhook, url_env: F, secret_env: FS}\n"
                          "routes:\n  - to: [fast]\n")  # fmt: skip
    metrics = NotifyMetrics()
    with receiver() as fast:
        secrets = {"fast": ChannelSecrets.model_validate({"url": fast.url, "secret": SECRET})}
        async with httpx.AsyncClient() as client:
            lanes = build_lanes(routes, secrets, store, metrics, client)
            group = f"test-{uuid.uuid4().hex[:8]}"
            service = NotifyService(settings, routes, lanes, metrics, group_id=group, topic=topic)
            stop = asyncio.Event()
            task = asyncio.create_task(service.run(stop))
            try:
                await asyncio.sleep(2)
                futures = kafka_admin.create_topics([NewTopic(topic, 1, 1)])
                await asyncio.to_thread(futures[topic].result, 30)
                wait_for_topic(kafka_admin, topic, 1)
                producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
                producer.produce(topic, make_alert().model_dump_json().encode())
                assert producer.flush(10) == 0
                started = time.monotonic()
                while not fast.answered() and time.monotonic() - started < 30:
                    await asyncio.sleep(0.2)
                assert fast.answered(), "the late topic was not picked up within 30 s"
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)
                kafka_admin.delete_topics([topic])
