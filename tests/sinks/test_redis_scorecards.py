"""RedisScorecardSink against the real redis-server: absolute writes, moves, nulls, outages."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
import redis
import redis.asyncio
from redis.crc import key_slot
from structlog.testing import capture_logs

from schemas.settings import Settings
from scorers.changes import change
from sinks.exceptions import RedisStoreError
from sinks.redis_keys import CHANGES_MAXLEN, RedisKeys
from sinks.redis_scorecards import RedisScorecardSink, RetryPolicy
from streams.connections import scorecard_sink
from tests.sinks.redis_support import card, dump, prefixed, stored_json, stream_fields

pytestmark = pytest.mark.redis

FAST = RetryPolicy(first_delay_s=0.05, max_delay_s=0.3)


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


@pytest.fixture(name="sink")
def fixture_sink(redis_client: redis.asyncio.Redis, prefix: str) -> RedisScorecardSink:
    return RedisScorecardSink(redis_client, prefix, retry=FAST)


async def test_flush_writes_card_boards_sets_and_change_stream(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """One rep card and one team card: every key of the layout, with the published JSON."""
    k = RedisKeys(prefix)
    rep = card("ana", "north", 62.5)
    sink.add(rep, change(None, rep))
    sink.add(card(None, "north", 55.0), None)
    assert sink.pending == 2
    assert await sink.flush() == 2
    assert sink.pending == 0

    stored = await stored_json(redis_client, k.rep_card("ana", "30d"))
    assert stored == {
        **orjson.loads(orjson.dumps(rep.to_dict())),
        "updated_at": stored["updated_at"],
        "change": {
            "overall": 62.5,
            "perspectives": dict.fromkeys(rep.perspectives, 62.5),
            "kpis": {
                "revenue_won": {"value": 10_000.0, "attainment": 0.5, "contribution": 10.0},
                "sales_cycle_days": {"value": 20.0, "attainment": 1.2, "contribution": 5.0},
            },
        },
    }
    assert stored["updated_at"].endswith("+00:00")
    team = await stored_json(redis_client, k.team_card("north", "30d"))
    assert "rep_id" not in team and team["change"] is None and team["overall"] == 55.0

    assert await redis_client.zscore(k.leaderboard("30d", "overall"), "ana") == 62.5
    assert await redis_client.zscore(k.leaderboard("30d", "perspective:customer"), "ana") == 62.5
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:revenue_won"), "ana") == 10_000
    assert await redis_client.zscore(k.team_leaderboard("30d", "north", "overall"), "ana") == 62.5
    assert await redis_client.zscore(k.teams_leaderboard("30d", "overall"), "north") == 55.0
    assert await redis_client.smembers(k.reps) == {"ana"}
    assert await redis_client.smembers(k.teams) == {"north"}
    assert await redis_client.smembers(k.windows) == {"30d"}
    entries = await stream_fields(redis_client, k.changes)
    assert entries == [
        {
            "rep_id": "ana",
            "team_id": "north",
            "window": "30d",
            "as_of": "2026-03-11",
            "overall": "62.5",
            "delta": "62.5",
        },
        {
            "team_id": "north",
            "window": "30d",
            "as_of": "2026-03-11",
            "overall": "55.0",
            "delta": "",
        },
    ]


def test_the_hash_tags_put_a_rep_and_a_window_in_one_slot() -> None:
    """Keys read together share a Redis Cluster slot (redis-py's own CRC16 slot function)."""
    k = RedisKeys("ss")
    assert key_slot(k.rep_card("ana", "7d").encode()) == key_slot(
        k.rep_card("ana", "quarter").encode()
    )
    boards = [
        k.leaderboard("30d", "overall"),
        k.leaderboard("30d", "kpi:nps"),
        k.team_leaderboard("30d", "north", "perspective:customer"),
        k.teams_leaderboard("30d", "overall"),
    ]
    assert len({key_slot(b.encode()) for b in boards}) == 1
    assert key_slot(k.leaderboard("7d", "overall").encode()) != key_slot(boards[0].encode())


async def test_flushing_the_same_cards_twice_leaves_identical_keys(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """A redelivered batch changes nothing, not even the change stream."""
    cards = [card("ana", "north", 70.0), card("bob", "south", None), card(None, "north", 64.0)]
    for c in cards:
        sink.add(c, change(None, c))
    await sink.flush()
    first = await dump(redis_client, prefix)
    for c in cards:
        sink.add(c, change(c, c))
    assert await sink.flush() == 0
    assert await dump(redis_client, prefix) == first


async def test_a_cold_sink_rewrites_the_same_values(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """After a restart (no memory of what was written) the rewrite is absolute: same values."""
    cards = [card("ana", "north", 70.0), card("bob", "north", 40.0)]

    async def write_with_a_new_sink() -> dict[str, object]:
        sink = RedisScorecardSink(redis_client, prefix)
        for c in cards:
            sink.add(c, None)
        assert await sink.flush() == 2
        state = await dump(redis_client, prefix)
        for key, value in state.items():
            if ":card:" in key:
                state[key] = {**orjson.loads(value), "updated_at": "-"}
        return state

    first, second = await write_with_a_new_sink(), await write_with_a_new_sink()
    changes = RedisKeys(prefix).changes
    assert len(first.pop(changes)) == 2  # type: ignore[arg-type]
    assert len(second.pop(changes)) == 4  # type: ignore[arg-type]
    assert second == first


async def test_a_null_score_leaves_the_leaderboards(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """No data is not a zero: the rep drops out of the boards of the null scores only."""
    k = RedisKeys(prefix)
    sink.add(card("ana", "north", 70.0), None)
    await sink.flush()
    sink.add(
        card(
            "ana",
            "north",
            None,
            perspectives={"financial": 80.0, "customer": None},
            revenue=None,
        ),
        None,
    )
    await sink.flush()
    for board in (k.leaderboard("30d", "overall"), k.team_leaderboard("30d", "north", "overall")):
        assert await redis_client.zscore(board, "ana") is None
    assert await redis_client.zscore(k.leaderboard("30d", "perspective:customer"), "ana") is None
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:revenue_won"), "ana") is None
    assert await redis_client.zscore(k.leaderboard("30d", "perspective:financial"), "ana") == 80
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:sales_cycle_days"), "ana") == 20
    assert (await stream_fields(redis_client, k.changes))[-1]["overall"] == ""


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold-start"])
async def test_a_team_move_leaves_the_old_teams_boards(
    redis_client: redis.asyncio.Redis, prefix: str, cold: bool
) -> None:
    """Moved north -> south: gone from every north board, in the south ones.

    Cold start: a new sink never saw the north card; it reads the old card's team.
    """
    k = RedisKeys(prefix)
    first = RedisScorecardSink(redis_client, prefix)
    first.add(card("ana", "north", 70.0), None)
    first.add(card("bob", "north", 60.0), None)
    await first.flush()
    second = RedisScorecardSink(redis_client, prefix) if cold else first
    second.add(card("ana", "south", 72.0), None)
    await second.flush()
    for metric in ("overall", "perspective:financial", "kpi:revenue_won", "kpi:sales_cycle_days"):
        assert await redis_client.zrange(k.team_leaderboard("30d", "north", metric), 0, -1) == [
            "bob"
        ]
        assert await redis_client.zrange(k.team_leaderboard("30d", "south", metric), 0, -1) == [
            "ana"
        ]
    assert await redis_client.zcard(k.leaderboard("30d", "overall")) == 2


async def test_a_rep_leaving_every_team_leaves_the_old_teams_boards(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    k = RedisKeys(prefix)
    sink.add(card("ana", "north", 70.0), None)
    await sink.flush()
    sink.add(card("ana", None, 70.0), None)
    await sink.flush()
    assert await redis_client.zcard(k.team_leaderboard("30d", "north", "overall")) == 0
    assert await redis_client.zscore(k.leaderboard("30d", "overall"), "ana") == 70.0


async def test_only_the_latest_card_is_written_with_the_change_since_the_last_written(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """50 written; 60 then 65 buffered: one write of 65 whose change is +15, not +5."""
    k = RedisKeys(prefix)
    a, b, c = card("ana", overall=50.0), card("ana", overall=60.0), card("ana", overall=65.0)
    sink.add(a, change(None, a))
    await sink.flush()
    sink.add(b, change(a, b))
    sink.add(c, change(b, c))
    assert sink.pending == 1
    assert await sink.flush() == 1
    stored = await stored_json(redis_client, k.rep_card("ana", "30d"))
    assert stored["overall"] == 65.0
    assert stored["change"]["overall"] == pytest.approx(15.0)
    assert stored["change"]["perspectives"]["customer"] == pytest.approx(15.0)
    assert [f["delta"] for f in await stream_fields(redis_client, k.changes)] == ["50.0", "15.0"]


async def test_the_change_stream_is_capped(redis_client: redis.asyncio.Redis, prefix: str) -> None:
    """MAXLEN ~ trims whole stream nodes (100 entries by default), so the cap is approximate."""
    assert CHANGES_MAXLEN == 10_000
    sink = RedisScorecardSink(redis_client, prefix, changes_maxlen=10)
    for i in range(500):
        sink.add(card(f"rep-{i:03}", overall=float(i % 100)), None)
    assert await sink.flush() == 500
    length = await redis_client.xlen(RedisKeys(prefix).changes)
    assert 10 <= length <= 10 + 100


async def test_a_refused_write_raises_a_typed_error_and_keeps_the_buffer(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """WRONGTYPE is not an outage: no retry loop, a RedisStoreError, nothing dropped."""
    await redis_client.set(RedisKeys(prefix).reps, "not a set")
    sink.add(card("ana"), None)
    with pytest.raises(RedisStoreError, match="WRONGTYPE"):
        await sink.flush()
    assert sink.pending == 1
    await redis_client.delete(RedisKeys(prefix).reps)
    assert await sink.flush() == 1


async def test_delete_all_removes_only_the_prefix(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    other = f"{prefix}x"  # a longer prefix must survive: SCAN matches "prefix:*"
    try:
        await redis_client.set(f"{other}:keep", "1")
        sink.add(card("ana"), None)
        await sink.flush()
        assert await sink.delete_all() > 5
        assert [key async for key in redis_client.scan_iter(match=f"{prefix}:*")] == []
        assert await redis_client.get(f"{other}:keep") == "1"
        sink.add(card("ana"), None)  # forgotten, so written again
        assert await sink.flush() == 1
    finally:
        await redis_client.delete(f"{other}:keep")


# --- outage: a throwaway redis-server we can kill and restart on the same port ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server not on PATH; run `make up` (scripts/redis.sh installs it)"
        self._proc = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None


@pytest.fixture(name="throwaway")
def fixture_throwaway() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(_free_port())
    try:
        yield server
    finally:
        server.stop()


async def test_flush_waits_through_an_outage_and_loses_nothing(
    throwaway: ThrowawayRedis,
) -> None:
    """Server killed before flush: flush retries (logged), then completes once it is back."""
    throwaway.start()
    with capture_logs() as logs:
        sink = scorecard_sink(Settings(redis_url=throwaway.url), retry=FAST)
        try:
            sink.add(card("ana", overall=10.0), None)
            assert await sink.flush() == 1  # connected once, so the pool holds a dead socket next
            throwaway.stop()
            sink.add(card("ana", overall=20.0), None)
            sink.add(card("bob", overall=30.0), None)
            flush = asyncio.create_task(sink.flush())
            await asyncio.sleep(1.0)
            assert not flush.done()
            retries = [e for e in logs if e["event"] == "redis.flush_retry"]
            assert len(retries) >= 2
            assert [e["attempt"] for e in retries[:2]] == [1, 2]
            assert retries[0]["log_level"] == "warning" and retries[0]["cards"] == 2

            sink.add(card("cyd", overall=40.0), None)  # added mid-outage: waits its turn
            throwaway.start()
            assert await asyncio.wait_for(flush, timeout=15) == 2
            assert sink.pending == 1
            assert await sink.flush() == 1
        finally:
            await sink.aclose()
    assert any(e["event"] == "redis.flush_recovered" for e in logs)

    check = redis.asyncio.Redis.from_url(throwaway.url, decode_responses=True)
    try:
        board = await check.zrange(
            RedisKeys("ss").leaderboard("30d", "overall"), 0, -1, withscores=True
        )
        assert board == [("ana", 20.0), ("bob", 30.0), ("cyd", 40.0)]
    finally:
        await check.aclose()


async def test_a_cancelled_flush_keeps_its_cards(throwaway: ThrowawayRedis) -> None:
    """Shutdown while Redis is down: the cards stay buffered for whoever flushes next."""
    sink = scorecard_sink(Settings(redis_url=throwaway.url), retry=FAST)
    try:
        sink.add(card("ana", overall=10.0), None)
        flush = asyncio.create_task(sink.flush())
        await asyncio.sleep(0.3)
        flush.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flush
        assert sink.pending == 1
        throwaway.start()
        assert await sink.flush() == 1
    finally:
        await sink.aclose()
