"""`scorestream notify redrive`: parked alerts, refused ones included, are sent once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio
from typer.testing import CliRunner

from schemas.settings import Settings
from sinks.redis_calls import RedisCalls
from sinks.redis_notify import NotifyStore, Parked
from streams.cli.main import app
from tests.notify_receiver import receiver
from tests.schemas.test_routes import ISSUE_SHAPE, SECRET
from tests.sinks.alerts import make_alert

pytestmark = pytest.mark.redis


def test_redrive_sends_a_refused_alert_once_the_receiver_is_fixed(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    prefix = f"test-redrive-{uuid.uuid4().hex[:8]}"
    alert = make_alert()

    async def park() -> None:
        store = NotifyStore(RedisCalls(redis.asyncio.Redis.from_url(redis_url)), prefix)
        refused = Parked(alert, "refused", datetime.now(UTC), 404, "no_such_hook")
        await store.park("floor", refused)
        await store.calls.aclose()

    asyncio.run(park())
    routes = tmp_path / "routes.yaml"
    routes.write_text(ISSUE_SHAPE)
    with receiver() as hook:
        env = {"SCORESTREAM_REDIS_URL": redis_url, "SCORESTREAM_REDIS_PREFIX": prefix,
               "FLOOR_HOOK": hook.url, "FLOOR_HOOK_SECRET": SECRET}  # fmt: skip
        first = CliRunner().invoke(app, ["notify", "redrive", "--routes", str(routes)], env=env)
        again = CliRunner().invoke(app, ["notify", "redrive", "--routes", str(routes)], env=env)
    assert first.exit_code == 0, first.output
    assert "floor: 1 sent" in first.output
    assert "floor: nothing parked" in again.output
    assert [r.headers["webhook-id"] for r in hook.requests] == [alert.alert_id]
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.unlink(key)
