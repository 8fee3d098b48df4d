"""RedisScorecardSink against the real redis-server: absolute writes, moves, nulls, outages."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
import redis
import redis.asyncio
from redis.crc import key_slot
from structlog.testing import capture_logs

from schemas.settings import Settings
from scorers.effects import CardUpdate
from scorers.scoring import Scorecard
from sinks.exceptions import RedisStoreError
from sinks.redis_calls import RedisCalls, RetryPolicy
from sinks.redis_keys import CHANGES_MAXLEN, RedisKeys
from sinks.redis_scorecards import RedisScorecardSink
from streams.runtime.connections import scorecard_sink
from tests.redis_server import ThrowawayRedis
from tests.sinks.redis_support import card, dump, prefixed, stored_json, stream_fields

pytestmark = pytest.mark.redis

FAST = RetryPolicy(first_delay_s=0.05, max_delay_s=0.3)
AT = "2026-03-11T10:00:00.000+00:00"


def update(new: Scorecard, previous: Scorecard | None = None) -> CardUpdate:
    """A card as the planner hands it over: with the card it replaces and the move since."""
    return CardUpdate.of(new, previous)


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


@pytest.fixture(name="sink")
def fixture_sink(redis_client: redis.asyncio.Redis, prefix: str) -> RedisScorecardSink:
    return RedisScorecardSink(RedisCalls(redis_client, FAST), prefix)


async def test_write_sets_card_boards_sets_and_change_stream(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """One rep card and one team card: every key of the layout, with the published JSON."""
    k = RedisKeys(prefix)
    rep = card("ana", "north", 62.5)
    assert await sink.write([update(rep), update(card(None, "north", 55.0))], AT) == 2

    stored = await stored_json(redis_client, k.rep_card("ana", "30d"))
    assert stored == {
        **orjson.loads(orjson.dumps(rep.to_dict())),
        "updated_at": AT,
        "change": {
            "overall": 62.5,
            "perspectives": dict.fromkeys(rep.perspectives, 62.5),
            "kpis": {
                "revenue_won": {"value": 10_000.0, "attainment": 0.5, "contribution": 10.0},
                "sales_cycle_days": {"value": 20.0, "attainment": 1.2, "contribution": 5.0},
            },
        },
    }
    team = await stored_json(redis_client, k.team_card("north", "30d"))
    assert "rep_id" not in team and team["change"]["overall"] == 55.0 and team["overall"] == 55.0

    assert await redis_client.zscore(k.leaderboard("30d", "overall"), "ana") == 62.5
    assert await redis_client.zscore(k.leaderboard("30d", "perspective:customer"), "ana") == 62.5
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:revenue_won"), "ana") == 10_000
    assert await redis_client.smembers(k.team_reps("north")) == {"ana"}
    assert await redis_client.zscore(k.teams_leaderboard("30d", "overall"), "north") == 55.0
    assert await redis_client.smembers(k.reps) == {"ana"}
    assert await redis_client.smembers(k.teams) == {"north"}
    assert await redis_client.smembers(k.windows) == {"30d"}
    (entry,) = await stream_fields(redis_client, k.changes)  # one entry for the batch
    assert orjson.loads(entry["cards"]) == [
        {
            "rep_id": "ana",
            "team_id": "north",
            "window": "30d",
            "as_of": "2026-03-11",
            "overall": 62.5,
            "delta": 62.5,
        },
        {
            "team_id": "north",
            "window": "30d",
            "as_of": "2026-03-11",
            "overall": 55.0,
            "delta": 55.0,
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
        k.leaderboard("30d", "perspective:customer"),
        k.teams_leaderboard("30d", "overall"),
    ]
    assert len({key_slot(b.encode()) for b in boards}) == 1
    assert key_slot(k.leaderboard("7d", "overall").encode()) != key_slot(boards[0].encode())


async def test_a_reps_cards_go_in_one_command_whatever_its_windows(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Redis's cost is per command: a rep's cards (one slot) are one MSET, a team's too."""
    windows = ["7d", "30d", "quarter"]
    cards = [card(who, "north", 60.0, window=w) for who in ("ana", "bob", None) for w in windows]
    before = await redis_client.info("commandstats")
    await sink.write([update(c) for c in cards], AT)
    after = await redis_client.info("commandstats")

    def calls(command: str) -> int:
        return int(after.get(f"cmdstat_{command}", {}).get("calls", 0)) - int(
            before.get(f"cmdstat_{command}", {}).get("calls", 0)
        )

    assert (calls("mset"), calls("set")) == (4, 0)  # two reps, the team, the worker's marker
    k = RedisKeys(prefix)
    for w in windows:
        assert (await stored_json(redis_client, k.rep_card("bob", w)))["window"] == w
        assert (await stored_json(redis_client, k.team_card("north", w)))["window"] == w


async def test_writing_the_same_batch_twice_leaves_the_same_keys(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """A retried or redelivered batch: every write is absolute, only the stream grows."""
    cards = [card("ana", "north", 70.0), card("bob", "south", None), card(None, "north", 64.0)]
    await sink.write([update(c) for c in cards], AT)
    first = await dump(redis_client, prefix)
    await sink.write([update(c) for c in cards], AT)
    second = await dump(redis_client, prefix)
    changes = RedisKeys(prefix).changes
    assert len(second.pop(changes)) == 2 * len(first.pop(changes))
    assert second == first


async def test_a_card_replacing_another_moves_only_its_changed_scores(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Given the card it replaces, a write sends only the scores that moved; the boards then
    hold the new card's scores either way."""
    k = RedisKeys(prefix)
    old = card("ana", "north", 50.0)
    await sink.write([update(old)], AT)
    await redis_client.zadd(k.leaderboard("30d", "kpi:sales_cycle_days"), {"ana": 99.0})
    new = card("ana", "north", 60.0)  # same KPI values, new scores
    await sink.write([update(new, old)], AT)
    assert await redis_client.zscore(k.leaderboard("30d", "overall"), "ana") == 60.0
    # an unchanged KPI value is not re-sent: the planted 99 shows the command was skipped
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:sales_cycle_days"), "ana") == 99.0
    assert (await stored_json(redis_client, k.rep_card("ana", "30d")))["change"]["overall"] == 10.0


async def test_a_null_score_leaves_the_leaderboards(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """No data is not a zero: the rep drops out of the boards of the null scores only."""
    k = RedisKeys(prefix)
    old = card("ana", "north", 70.0)
    await sink.write([update(old)], AT)
    new = card(
        "ana", "north", None, perspectives={"financial": 80.0, "customer": None}, revenue=None
    )
    await sink.write([update(new, old)], AT)
    assert await redis_client.zscore(k.leaderboard("30d", "overall"), "ana") is None
    assert await redis_client.zscore(k.leaderboard("30d", "perspective:customer"), "ana") is None
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:revenue_won"), "ana") is None
    assert await redis_client.zscore(k.leaderboard("30d", "perspective:financial"), "ana") == 80
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:sales_cycle_days"), "ana") == 20
    last = orjson.loads((await stream_fields(redis_client, k.changes))[-1]["cards"])
    assert last[0]["overall"] is None


async def test_a_team_move_leaves_the_old_teams_boards(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Moved north -> south: no longer one of north's reps, one of south's."""
    k = RedisKeys(prefix)
    north = card("ana", "north", 70.0)
    await sink.write([update(north), update(card("bob", "north", 60.0))], AT)
    await sink.write([update(card("ana", "south", 72.0), north)], AT)
    assert await redis_client.smembers(k.team_reps("north")) == {"bob"}
    assert await redis_client.smembers(k.team_reps("south")) == {"ana"}
    assert await redis_client.zcard(k.leaderboard("30d", "overall")) == 2


async def test_a_rep_leaving_every_team_leaves_the_old_teams_boards(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    k = RedisKeys(prefix)
    north = card("ana", "north", 70.0)
    await sink.write([update(north)], AT)
    await sink.write([update(card("ana", None, 70.0), north)], AT)
    assert await redis_client.smembers(k.team_reps("north")) == set()
    assert await redis_client.zscore(k.leaderboard("30d", "overall"), "ana") == 70.0


async def test_cards_read_back_equal_the_cards_written(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """What a worker reads when it is assigned a partition: the cards it will replace. A card
    that is not a scorecard is left out (it is rewritten), not an error."""
    cards = [card("ana", "north", 70.0), card("ana", "north", 40.0, window="7d")]
    await sink.write([update(c) for c in cards], AT)
    await redis_client.set(RedisKeys(prefix).rep_card("bob", "30d"), b"{not json")
    keys = [("ana", "30d"), ("ana", "7d"), ("bob", "30d"), ("cyd", "30d")]
    assert await sink.read_cards(keys) == {("ana", "30d"): cards[0], ("ana", "7d"): cards[1]}


async def test_the_change_stream_is_capped(redis_client: redis.asyncio.Redis, prefix: str) -> None:
    """MAXLEN ~ trims whole stream nodes (100 entries by default), so the cap is approximate."""
    assert CHANGES_MAXLEN == 10_000
    sink = RedisScorecardSink(RedisCalls(redis_client), prefix, changes_maxlen=10)
    for i in range(500):  # a batch, an entry
        assert await sink.write([update(card(f"rep-{i:03}", overall=float(i % 100)))], AT) == 1
    length = await redis_client.xlen(RedisKeys(prefix).changes)
    assert 10 <= length <= 10 + 100


async def test_a_refused_write_raises_a_typed_error(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """WRONGTYPE is not an outage: no retry loop, a RedisStoreError naming the cause."""
    await redis_client.set(RedisKeys(prefix).reps, "not a set")
    with pytest.raises(RedisStoreError, match="WRONGTYPE"):
        await sink.write([update(card("ana"))], AT)
    await redis_client.delete(RedisKeys(prefix).reps)
    assert await sink.write([update(card("ana"))], AT) == 1


async def test_delete_all_removes_only_the_prefix(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    other = f"{prefix}x"  # a longer prefix must survive: SCAN matches "prefix:*"
    try:
        await redis_client.set(f"{other}:keep", "1")
        await sink.write([update(card("ana"))], AT)
        assert await sink.delete_all() > 5
        assert [key async for key in redis_client.scan_iter(match=f"{prefix}:*")] == []
        assert await redis_client.get(f"{other}:keep") == "1"
    finally:
        await redis_client.delete(f"{other}:keep")


@pytest.fixture(name="throwaway")
def fixture_throwaway() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    try:
        yield server
    finally:
        server.stop()


async def test_a_write_waits_through_an_outage_and_loses_nothing(
    throwaway: ThrowawayRedis,
) -> None:
    """Server killed before a write: the write retries (logged), then completes once it is
    back; reads wait the same way."""
    throwaway.start()
    with capture_logs() as logs:
        sink = scorecard_sink(Settings(redis_url=throwaway.url, redis_prefix="ss"), retry=FAST)
        try:
            assert await sink.write([update(card("ana", overall=10.0))], AT) == 1
            throwaway.stop()  # the pool now holds a dead socket
            updates = [update(card("ana", overall=20.0)), update(card("bob", overall=30.0))]
            write = asyncio.create_task(sink.write(updates, AT))
            await asyncio.sleep(1.0)
            assert not write.done()
            assert not sink.calls.available
            retries = [e for e in logs if e["event"] == "redis.retry"]
            assert len(retries) >= 2
            assert [e["attempt"] for e in retries[:2]] == [1, 2]
            assert retries[0]["log_level"] == "warning"
            assert retries[0]["what"] == "writing 2 scorecards"
            throwaway.start()
            assert await asyncio.wait_for(write, timeout=15) == 2
            assert sink.calls.available
            read = await sink.read_cards([("bob", "30d")])
            assert read[("bob", "30d")].overall == 30.0
        finally:
            await sink.aclose()
    assert any(e["event"] == "redis.recovered" for e in logs)

    check = redis.asyncio.Redis.from_url(throwaway.url, decode_responses=True)
    try:
        board = await check.zrange(
            RedisKeys("ss").leaderboard("30d", "overall"), 0, -1, withscores=True
        )
        assert board == [("ana", 20.0), ("bob", 30.0)]
    finally:
        await check.aclose()


async def test_a_full_redis_is_waited_for_like_an_outage(throwaway: ThrowawayRedis) -> None:
    """``maxmemory`` reached (no eviction): Redis refuses writes with OOM until memory is
    freed. The write waits (degraded, logged) instead of raising, then completes."""
    throwaway.start()
    admin = throwaway.client()
    with capture_logs() as logs:
        sink = scorecard_sink(Settings(redis_url=throwaway.url, redis_prefix="ss"), retry=FAST)
        try:
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)  # below what an empty server uses: every write OOM
            write = asyncio.create_task(sink.write([update(card("ana", overall=40.0))], AT))
            await asyncio.sleep(1.0)
            assert not write.done()
            assert not sink.calls.available
            retries = [e for e in logs if e["event"] == "redis.retry"]
            assert len(retries) >= 2
            assert "maxmemory" in retries[0]["error"]
            admin.config_set("maxmemory", 0)
            assert await asyncio.wait_for(write, timeout=15) == 1
            assert sink.calls.available
            read = await sink.read_cards([("ana", "30d")])
            assert read[("ana", "30d")].overall == 40.0
        finally:
            await sink.aclose()
            admin.close()


async def test_lost_data_tells_a_restart_empty_from_an_outage(throwaway: ThrowawayRedis) -> None:
    """The marker goes with the first cards: nothing lost before them; a server that comes
    back empty (even after cards were written to it again) is noticed once; a flush too."""
    throwaway.start()
    sink = scorecard_sink(Settings(redis_url=throwaway.url, redis_prefix="ss"), retry=FAST)
    try:
        assert not await sink.lost_data()  # nothing written yet
        await sink.write([update(card("ana", overall=10.0))], AT)
        assert not await sink.lost_data()
        throwaway.stop()
        throwaway.start()
        await sink.write([update(card("ana", overall=20.0))], AT)  # a batch beats the check
        assert await sink.lost_data()
        assert not await sink.lost_data()  # told once
        throwaway.client().flushall()
        assert await sink.lost_data()
    finally:
        await sink.aclose()


async def test_a_kpi_the_new_card_has_not_leaves_its_boards(
    sink: RedisScorecardSink, redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """A new definition version dropped sales_cycle_days: the rep's and the team's cards
    leave its boards; the KPIs still scored stay."""
    k = RedisKeys(prefix)
    rep, team = card("ana", "north", 60.0, version=1), card(None, "north", 60.0, version=1)
    await sink.write([update(rep), update(team)], AT)
    board = k.leaderboard("30d", "kpi:sales_cycle_days")
    teams_board = k.teams_leaderboard("30d", "kpi:sales_cycle_days")
    assert await redis_client.zscore(board, "ana") == 20.0
    assert await redis_client.zscore(teams_board, "north") == 20.0
    kpis = {"revenue_won": rep.kpis["revenue_won"]}
    new_rep = dataclasses.replace(rep, kpis=kpis, definition_version=2)
    new_team = dataclasses.replace(team, kpis=kpis, definition_version=2)
    await sink.write([update(new_rep, rep), update(new_team, team)], AT)
    assert await redis_client.zscore(board, "ana") is None
    assert await redis_client.zscore(teams_board, "north") is None
    assert await redis_client.zscore(k.leaderboard("30d", "kpi:revenue_won"), "ana") == 10_000.0
    stored = await stored_json(redis_client, k.rep_card("ana", "30d"))
    assert stored["definition_version"] == 2
