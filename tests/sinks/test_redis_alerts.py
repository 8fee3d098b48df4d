"""The capped alert stream pages read (real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import redis.asyncio

from schemas.outputs import CoachingAlert
from sinks.redis_alerts import append_alert
from sinks.redis_keys import RedisKeys
from tests.sinks.redis_support import prefixed, stream_fields

pytestmark = pytest.mark.redis


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


def alert(n: int) -> CoachingAlert:
    return CoachingAlert(
        alert_id=f"a{n}", rule="no_calls", kind="inactivity", severity="info", rep_id="ana",
        team_id="north", window=None, period="2026-03-09", as_of=date(2026, 3, 11),
        evidence={"days": 3}, text="No calls logged for 3 working days.",
        raised_at=datetime(2026, 3, 11, 9, 30, tzinfo=UTC),
    )  # fmt: skip


async def test_alerts_are_appended_whole_and_the_stream_stays_capped(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    keys = RedisKeys(prefix)
    await append_alert(redis_client, keys, alert(0))
    fields = await stream_fields(redis_client, keys.alerts)
    assert [CoachingAlert.model_validate_json(f["alert"]) for f in fields] == [alert(0)]

    for n in range(1, 400):
        await append_alert(redis_client, keys, alert(n), maxlen=50)
    # MAXLEN ~ trims whole macro nodes (100 entries by default): bounded, not exact.
    assert 50 <= await redis_client.xlen(keys.alerts) <= 150
    last = (await stream_fields(redis_client, keys.alerts))[-1]
    assert CoachingAlert.model_validate_json(last["alert"]).alert_id == "a399"
