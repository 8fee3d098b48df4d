"""Helpers for tests against the real Redis: scorecards to write, a private prefix, a key dump."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any, cast
from uuid import uuid4

import orjson
import redis.asyncio

from scorers.effects import CardUpdate
from scorers.scoring import KpiScore, Scorecard
from sinks.redis_calls import RedisCalls
from sinks.redis_scorecards import RedisScorecardSink

AS_OF = date(2026, 3, 11).toordinal()
PERSPECTIVES = ("financial", "customer", "internal_process", "learning_growth")


def card(
    rep: str | None,
    team: str | None = "north",
    overall: float | None = 50.0,
    *,
    window: str = "30d",
    as_of: int = AS_OF,
    perspectives: dict[str, float | None] | None = None,
    revenue: float | None = 10_000.0,
    cycle_days: float | None = 20.0,
    uncapped: float | None = None,
    version: int | None = None,
) -> Scorecard:
    """A scorecard with every perspective equal to ``overall`` unless given, and two KPIs;
    ``overall_uncapped`` is ``uncapped``, else ``overall``; scored by definition ``version``."""
    return Scorecard(
        rep_id=rep,
        team_id=team,
        window=window,
        as_of=as_of,
        overall=overall,
        perspectives=perspectives
        if perspectives is not None
        else dict.fromkeys(PERSPECTIVES, overall),
        kpis={
            "revenue_won": KpiScore(revenue, 20_000.0, None if revenue is None else 0.5, 3, 10.0),
            "sales_cycle_days": KpiScore(cycle_days, 30.0, 1.2, 2, 5.0),
        },
        overall_uncapped=overall if uncapped is None else uncapped,
        definition_version=version,
    )


def new_prefix() -> str:
    return f"test-{uuid4().hex[:8]}"


async def delete_prefix(client: redis.asyncio.Redis, prefix: str) -> None:
    """Cleanup independent of the code under test (not ``delete_all``)."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)


async def dump(client: redis.asyncio.Redis, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` with its value, by type; stream entries by fields only."""
    out: dict[str, Any] = {}
    keys = sorted([key async for key in client.scan_iter(match=f"{prefix}:*", count=500)])
    for key in keys:
        kind = await client.type(key)
        if kind == "string":
            out[key] = await client.get(key)
        elif kind == "zset":
            out[key] = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            out[key] = sorted(await client.smembers(key))
        elif kind == "hash":
            out[key] = await client.hgetall(key)
        elif kind == "stream":
            out[key] = await stream_fields(client, key)
        else:
            raise AssertionError(f"unexpected {kind!r} at {key!r}")
    return out


async def stored_json(client: redis.asyncio.Redis, key: str) -> Any:
    """The JSON value at ``key`` (a stored card), decoded."""
    raw = await client.get(key)
    assert raw is not None, f"{key} is missing"
    return orjson.loads(raw)


async def stream_fields(client: redis.asyncio.Redis, key: str) -> list[dict[str, str]]:
    """The fields of every entry of the stream at ``key``, oldest first."""
    entries = cast(list[tuple[str, dict[str, str]]], await client.xrange(key))
    return [fields for _, fields in entries]


async def prefixed(client: redis.asyncio.Redis) -> AsyncIterator[str]:
    prefix = new_prefix()
    try:
        yield prefix
    finally:
        await delete_prefix(client, prefix)


async def write_cards(
    client: redis.asyncio.Redis,
    prefix: str,
    cards: list[Scorecard],
    replacing: list[Scorecard] = (),  # type: ignore[assignment]
) -> None:
    """Write ``cards`` as the worker does, for tests of the readers: each replaces the card
    of its rep and window in ``replacing`` (if any), else is a first card."""
    before = {(c.rep_id, c.team_id if c.rep_id is None else None, c.window): c for c in replacing}
    sink = RedisScorecardSink(RedisCalls(client), prefix)
    updates = []
    for c in cards:
        old = before.get((c.rep_id, c.team_id if c.rep_id is None else None, c.window))
        updates.append(CardUpdate.of(c, old))
    await sink.write(updates, "2026-03-11T10:00:00.000+00:00")
