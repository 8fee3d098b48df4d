"""The alerts page and the rep page say where `notify` delivered each alert."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
import redis.asyncio

from sinks.redis_calls import RedisCalls
from sinks.redis_notify import NotifyStore, Parked
from tests.streams.web.conftest import alert

pytestmark = pytest.mark.redis


def _record(redis_url: str, prefix: str) -> None:
    async def write() -> None:
        store = NotifyStore(RedisCalls(redis.asyncio.Redis.from_url(redis_url)), prefix)
        now = datetime.now(UTC)
        await store.register_channels(["floor", "team-north"])
        await store.record_sent("floor", ["a1"], now, 200, 1)
        down = Parked(alert("a1", "ana", "No calls for 3 days."), "down", now, answer="503")
        await store.park("team-north", down)
        await store.calls.aclose()

    asyncio.run(write())


def test_pages_show_each_alerts_deliveries(base: str, redis_url: str, prefix: str) -> None:
    _record(redis_url, prefix)
    expected = "Delivered: floor (sent), team-north (parked: down)"
    alerts = httpx.get(f"{base}/alerts").text
    assert alerts.count(expected) == 1  # a1 only: a2 went nowhere yet
    assert expected in httpx.get(f"{base}/reps/ana").text
    assert "Delivered:" not in httpx.get(f"{base}/reps/cyd").text
