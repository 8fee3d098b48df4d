"""``notify``'s record of deliveries in Redis: what was sent to each channel, what is parked.

A delivery is recorded right after the receiver's answer and before the consumer commits,
so a redelivered alert (restart, rebalance, kill -9) finds its record and is not sent
again; only a death between the answer and this record repeats a send. Sending a parked
alert again records it as sent and takes it out of ``parked`` in one MULTI (both keys are
in the channel's slot). Keys: ``sinks.redis_keys``; every call goes through ``RedisCalls``,
which waits while Redis is away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
import structlog
from pydantic import ValidationError

from schemas.outputs import CoachingAlert
from sinks.redis_calls import RedisCalls
from sinks.redis_keys import NOTIFY_KEEP_DAYS, RedisKeys

log = structlog.get_logger(__name__)

ParkReason = Literal["down", "refused", "held", "digest"]


@dataclass(frozen=True, slots=True)
class Parked:
    """An alert a channel still owes: the receiver was down, refused it, quiet hours hold it
    until ``not_before``, or it waits for the channel's daily digest at ``not_before``."""

    alert: CoachingAlert
    reason: ParkReason
    parked_at: datetime
    status: int | None = None
    answer: str | None = None
    not_before: datetime | None = None

    def to_json(self) -> bytes:
        return orjson.dumps({
            "alert": self.alert.model_dump(mode="json"), "reason": self.reason,
            "parked_at": self.parked_at.isoformat(), "status": self.status,
            "answer": self.answer,
            "not_before": None if self.not_before is None else self.not_before.isoformat(),
        })  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes | str) -> Parked:
        data = orjson.loads(raw)
        not_before = data.get("not_before")
        return cls(
            alert=CoachingAlert.model_validate(data["alert"]), reason=data["reason"],
            parked_at=datetime.fromisoformat(data["parked_at"]), status=data.get("status"),
            answer=data.get("answer"),
            not_before=None if not_before is None else datetime.fromisoformat(not_before),
        )  # fmt: skip


class NotifyStore:
    def __init__(self, calls: RedisCalls, prefix: str) -> None:
        self.calls = calls
        self.keys = RedisKeys(prefix)

    async def handled(self, channel: str, alert_id: str) -> bool:
        """Whether the alert was sent to the channel or parked for it already."""

        async def both(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            pipe.hexists(self.keys.notify_sent(channel), alert_id)
            pipe.hexists(self.keys.notify_parked(channel), alert_id)
            return list(await pipe.execute())

        sent, parked = await self.calls.run("notify handled", both)
        return bool(sent) or bool(parked)

    async def is_sent(self, channel: str, alert_id: str) -> bool:
        key = self.keys.notify_sent(channel)
        return bool(await self.calls.run("notify is sent", lambda c: c.hexists(key, alert_id)))

    async def record_sent(
        self, channel: str, alert_ids: list[str], at: datetime, status: int | None, attempts: int
    ) -> None:
        """The alerts (one, or a digest's) are sent: recorded, and no longer parked, at once."""
        record = orjson.dumps({"at": at.isoformat(), "status": status, "attempts": attempts})

        async def write(client: Any) -> None:
            pipe = client.pipeline(transaction=True)
            pipe.hset(self.keys.notify_sent(channel), mapping=dict.fromkeys(alert_ids, record))
            pipe.zadd(self.keys.notify_sent_at(channel), dict.fromkeys(alert_ids, at.timestamp()))
            pipe.hdel(self.keys.notify_parked(channel), *alert_ids)
            await pipe.execute()

        await self.calls.run("notify record sent", write)

    async def park(self, channel: str, parked: Parked) -> None:
        key, alert_id = self.keys.notify_parked(channel), parked.alert.alert_id
        await self.calls.run("notify park", lambda c: c.hset(key, alert_id, parked.to_json()))

    async def parked(self, channel: str) -> list[Parked]:
        """The channel's parked alerts, oldest first; an unreadable entry is logged, kept."""
        key = self.keys.notify_parked(channel)
        raw: dict[Any, Any] = await self.calls.run("notify parked", lambda c: c.hgetall(key))
        out: list[Parked] = []
        for alert_id, value in raw.items():
            try:
                out.append(Parked.from_json(value))
            except (orjson.JSONDecodeError, ValidationError, KeyError, ValueError) as exc:
                log.error("unreadable parked alert", channel=channel, alert_id=alert_id,
                          error=str(exc))  # fmt: skip
        return sorted(out, key=lambda p: (p.parked_at, p.alert.alert_id))

    async def register_channels(self, channels: Iterable[str]) -> None:
        """Name the routing file's channels, so pages can say where each alert went."""
        names = list(channels)
        key = self.keys.notify_channels
        await self.calls.run("notify channels", lambda c: c.sadd(key, *names))

    async def prune(self, channel: str, now: datetime) -> int:
        """Forget sends older than ``NOTIFY_KEEP_DAYS``; returns how many."""
        before = (now - timedelta(days=NOTIFY_KEEP_DAYS)).timestamp()
        at_key, sent_key = self.keys.notify_sent_at(channel), self.keys.notify_sent(channel)

        async def prune(client: Any) -> int:
            old = await client.zrangebyscore(at_key, "-inf", before, start=0, num=1000)
            if not old:
                return 0
            pipe = client.pipeline(transaction=True)
            pipe.hdel(sent_key, *old)
            pipe.zrem(at_key, *old)
            await pipe.execute()
            return len(old)

        return int(await self.calls.run("notify prune", prune))

    async def take_lease(self, channel: str, token: str, ttl_s: float) -> bool:
        """Whether this process may redrive ``channel`` for ``ttl_s``: one redriver per
        channel across instances, so two never send the same parked alert at once."""
        key = self.keys.notify_lease(channel)

        async def take(client: Any) -> bool:
            if await client.set(key, token, nx=True, px=int(ttl_s * 1000)):
                return True
            if await client.get(key) == token.encode():
                await client.pexpire(key, int(ttl_s * 1000))
                return True
            return False

        return bool(await self.calls.run("notify lease", take))

    async def release_lease(self, channel: str, token: str) -> None:
        """Give the channel back, if it is still ours (a lapsed lease may be another's)."""
        key = self.keys.notify_lease(channel)
        await self.calls.run("notify release", lambda c: c.eval(_RELEASE, 1, key, token))


async def read_deliveries(
    client: Any, keys: RedisKeys, alert_ids: list[str]
) -> dict[str, dict[str, str]]:
    """Where each alert stands on each channel notify knows: ``sent`` or ``parked: REASON``;
    a channel is absent when it owes the alert nothing (or notify has not reached it)."""
    out: dict[str, dict[str, str]] = {alert_id: {} for alert_id in alert_ids}
    if not alert_ids:
        return out
    channels = sorted(_text(c) for c in await client.smembers(keys.notify_channels))
    pipe = client.pipeline(transaction=False)
    for channel in channels:
        pipe.hmget(keys.notify_sent(channel), alert_ids)
        pipe.hmget(keys.notify_parked(channel), alert_ids)
    answers = await pipe.execute()
    for i, channel in enumerate(channels):
        sent, parked = answers[2 * i], answers[2 * i + 1]
        for alert_id, was_sent, was_parked in zip(alert_ids, sent, parked, strict=True):
            if was_sent is not None:
                out[alert_id][channel] = "sent"
            elif was_parked is not None:
                out[alert_id][channel] = f"parked: {orjson.loads(was_parked)['reason']}"
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
