"""The latest coaching alerts in Redis, for pages: a capped stream the worker appends to.

Kafka's ``scorecards.alerts`` is the contract for services; this stream only lets a
page show the latest alerts, and a live page follow them, without a Kafka consumer.
Appending is at least once (a worker that restarts re-sends the alerts it may not
have sent), so readers drop repeats by ``alert_id``. Key: ``sinks.redis_keys``.
"""

from __future__ import annotations

import redis.asyncio
from redis.typing import EncodableT, FieldT

from schemas.outputs import CoachingAlert
from sinks.redis_keys import ALERTS_MAXLEN, RedisKeys


async def append_alert(
    client: redis.asyncio.Redis,
    keys: RedisKeys,
    alert: CoachingAlert,
    *,
    maxlen: int = ALERTS_MAXLEN,
) -> None:
    """Add ``alert`` to the alert stream, trimmed to about ``maxlen`` entries."""
    await client.xadd(keys.alerts, entry(alert.model_dump_json()), maxlen=maxlen, approximate=True)


def entry(alert_json: str | bytes) -> dict[FieldT, EncodableT]:
    """The stream entry of one alert (``CoachingAlert`` JSON)."""
    return {"alert": alert_json}
