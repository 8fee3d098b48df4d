"""RedisScorecardReader against the real Redis, over cards the sink wrote."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import orjson
import pytest
import redis.asyncio

from schemas.outputs import CoachingAlert
from schemas.settings import Settings
from sinks.exceptions import RedisUnavailableError
from sinks.redis_alerts import append_alert
from streams.runtime.connections import scorecard_reader
from streams.views.rankings import RANK_BY, LeaderboardRow, metric_for
from streams.views.reading import RedisScorecardReader, public_card
from tests.sinks.redis_support import AS_OF, card, prefixed, write_cards

pytestmark = pytest.mark.redis


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


@pytest.fixture(name="reader")
async def fixture_reader(redis_url: str, prefix: str) -> AsyncIterator[RedisScorecardReader]:
    reader = scorecard_reader(Settings(redis_url=redis_url, redis_prefix=prefix))
    try:
        yield reader
    finally:
        await reader.aclose()


@pytest.fixture(name="board")
async def fixture_board(redis_client: redis.asyncio.Redis, prefix: str) -> None:
    """Five reps in two teams; three tie on overall, one has no overall at all."""
    perspectives = {"financial": 90.0, "customer": 10.0, "internal_process": 50.0}
    cards = [
        card("cyd", "north", 70.0, revenue=5_000.0, cycle_days=40.0),
        card("ana", "south", 70.0, revenue=9_000.0, cycle_days=12.0),
        card("bob", "north", 70.0, revenue=9_000.0, cycle_days=None),
        card("dan", "south", 80.0, perspectives={**perspectives, "learning_growth": 60.0}),
        card("eve", "north", None, revenue=None, cycle_days=30.0),
    ]
    await write_cards(redis_client, prefix, cards)


def ids(rows: list[LeaderboardRow]) -> list[str]:
    return [row.rep_id for row in rows]


@pytest.mark.usefixtures("board")
async def test_ties_are_ordered_by_rep_id_and_null_scores_are_absent(
    reader: RedisScorecardReader,
) -> None:
    rows = await reader.leaderboard("30d", "overall")
    assert ids(rows) == ["dan", "ana", "bob", "cyd"]
    assert [r.rank for r in rows] == [1, 2, 3, 4]
    top = rows[0]
    assert (top.team_id, top.score, top.overall) == ("south", 80.0, 80.0)
    assert top.perspectives["learning_growth"] == 60.0
    assert top.to_dict() == {
        "rank": 1,
        "rep_id": "dan",
        "team_id": "south",
        "score": 80.0,
        "overall": 80.0,
        "perspectives": {
            "financial": 90.0,
            "customer": 10.0,
            "internal_process": 50.0,
            "learning_growth": 60.0,
        },
        "overall_since_yesterday": None,
        "rank_since_yesterday": None,
    }


@pytest.mark.usefixtures("board")
async def test_limit_and_team_scope(reader: RedisScorecardReader) -> None:
    assert ids(await reader.leaderboard("30d", "overall", limit=2)) == ["dan", "ana"]
    assert ids(await reader.leaderboard("30d", "overall", team="north")) == ["bob", "cyd"]
    south = await reader.leaderboard("30d", "overall", team="south", limit=1)
    assert [(r.rank, r.rep_id, r.team_id) for r in south] == [(1, "dan", "south")]
    assert await reader.leaderboard("30d", "overall", team="nobody") == []
    assert await reader.leaderboard("7d", "overall") == []


@pytest.mark.usefixtures("board")
async def test_by_perspective(reader: RedisScorecardReader) -> None:
    rows = await reader.leaderboard("30d", "customer")
    assert ids(rows) == ["ana", "bob", "cyd", "dan"]  # dan's customer score is only 10
    assert rows[-1].score == 10.0 and rows[-1].overall == 80.0
    assert ids(await reader.leaderboard("30d", "financial")) == ["dan", "ana", "bob", "cyd"]


@pytest.mark.usefixtures("board")
async def test_by_kpi_value(reader: RedisScorecardReader) -> None:
    rows = await reader.leaderboard("30d", "kpi:revenue_won")
    assert [(r.rep_id, r.score) for r in rows] == [
        ("dan", 10000.0),
        ("ana", 9000.0),
        ("bob", 9000.0),
        ("cyd", 5000.0),
    ]
    # eve has a revenue of None: absent; her overall is None but her cycle days count.
    fastest = await reader.leaderboard("30d", "kpi:sales_cycle_days", ascending=True)
    assert [(r.rep_id, r.score) for r in fastest] == [
        ("ana", 12.0),
        ("dan", 20.0),
        ("eve", 30.0),
        ("cyd", 40.0),
    ]
    assert fastest[2].overall is None


def test_rank_by_names_every_perspective_and_kpi() -> None:
    assert RANK_BY[:5] == (
        "overall",
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    )
    assert "kpi:sales_cycle_days" in RANK_BY
    assert metric_for("customer") == "perspective:customer"
    assert metric_for("kpi:nps") == "kpi:nps"
    with pytest.raises(ValueError, match="use one of: overall, financial"):
        metric_for("revenue")


async def test_get_cards_all_windows_shortest_first(
    redis_client: redis.asyncio.Redis, prefix: str, reader: RedisScorecardReader
) -> None:
    written = [card("ana", window=window) for window in ("quarter", "30d", "7d")]
    await write_cards(redis_client, prefix, [*written, card("bob", window="90d")])

    cards = await reader.get_cards("ana")
    assert [c["window"] for c in cards] == ["7d", "30d", "quarter"]
    assert {"updated_at", "change"} <= set(cards[0])
    assert public_card(cards[0]) == {
        "rep_id": "ana",
        "team_id": "north",
        "window": "7d",
        "as_of": "2026-03-11",
        "overall": 50.0,
        "overall_uncapped": 50.0,
        "definition_version": None,
        "perspectives": card("ana").perspectives,
        "kpis": {
            "revenue_won": {
                "value": 10000.0,
                "target": 20000.0,
                "attainment": 0.5,
                "samples": 3,
                "contribution": 10.0,
            },
            "sales_cycle_days": {
                "value": 20.0,
                "target": 30.0,
                "attainment": 1.2,
                "samples": 2,
                "contribution": 5.0,
            },
        },
    }
    assert [c["window"] for c in await reader.get_cards("ana", ["quarter", "90d"])] == ["quarter"]
    assert await reader.get_cards("nobody") == []


async def test_change_stream_follow(
    redis_client: redis.asyncio.Redis, prefix: str, reader: RedisScorecardReader
) -> None:
    """A follower starts at the newest id and sees only what is written after it."""
    assert await reader.last_change_id() == "0-0"
    await write_cards(redis_client, prefix, [card("ana")])
    start = await reader.last_change_id()
    assert await reader.changes_after(start, block_ms=50) == []
    await write_cards(redis_client, prefix, [card("bob", overall=61.0)])
    entries = await reader.changes_after(start, block_ms=50)
    assert [[(c["rep_id"], c["overall"]) for c in orjson.loads(e.fields["cards"])]
            for e in entries] == [[("bob", 61.0)]]  # fmt: skip


async def test_redis_down_is_unavailable_not_empty() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reader = scorecard_reader(Settings(redis_url=f"redis://127.0.0.1:{port}/0"), timeout_s=1)
    try:
        with pytest.raises(RedisUnavailableError):
            await reader.get_cards("ana")
        with pytest.raises(RedisUnavailableError):
            await reader.leaderboard("30d")
    finally:
        await reader.aclose()


async def test_ties_go_to_the_higher_uncapped_overall_then_the_rep_id(
    redis_client: redis.asyncio.Redis, prefix: str, reader: RedisScorecardReader
) -> None:
    """Three reps at 100: the one furthest past target first; equal uncapped ones by id."""
    cards = [
        card("ana", "north", 100.0, uncapped=104.0),
        card("bob", "north", 100.0, uncapped=131.5),
        card("cyd", "south", 100.0, uncapped=104.0),
        card("dan", "south", 90.0, uncapped=90.0),
    ]
    await write_cards(redis_client, prefix, cards)
    assert ids(await reader.leaderboard("30d")) == ["bob", "ana", "cyd", "dan"]
    assert ids(await reader.leaderboard("30d", "financial")) == ["bob", "ana", "cyd", "dan"]
    assert ids(await reader.leaderboard("30d", team="south")) == ["cyd", "dan"]


async def test_rows_say_how_far_they_moved_since_the_day_before(
    redis_client: redis.asyncio.Redis, prefix: str, reader: RedisScorecardReader
) -> None:
    """Yesterday ana led bob; today bob leads: bob +1 place, ana -1, cyd new (no yesterday)."""
    yesterday = [
        card("ana", overall=80.0, as_of=AS_OF - 1),
        card("bob", overall=60.0, as_of=AS_OF - 1),
    ]
    await write_cards(redis_client, prefix, yesterday)
    today = [card("ana", overall=70.0), card("bob", overall=75.5), card("cyd", overall=72.0)]
    await write_cards(redis_client, prefix, today, replacing=yesterday)
    rows = await reader.leaderboard("30d")
    assert [(r.rep_id, r.overall_since_yesterday, r.rank_since_yesterday) for r in rows] == [
        ("bob", 15.5, 1),
        ("cyd", None, None),
        ("ana", -10.0, -2),
    ]
    by_customer = await reader.leaderboard("30d", "customer", limit=1)
    assert [(r.rep_id, r.overall_since_yesterday, r.rank_since_yesterday) for r in by_customer] == [
        ("bob", 15.5, None)
    ]
    history = await reader.history("bob", "30d")
    assert [(p.day, p.overall) for p in history] == [("2026-03-10", 60.0), ("2026-03-11", 75.5)]
    assert await reader.history("nobody", "30d") == []


async def test_team_cards_windows_and_teams(
    redis_client: redis.asyncio.Redis, prefix: str, reader: RedisScorecardReader
) -> None:
    written = [card(None, "north", 64.0), card(None, "north", 51.0, window="7d"), card("ana")]
    await write_cards(redis_client, prefix, written)
    cards = await reader.team_cards("north")
    assert [(c["window"], c["overall"], "rep_id" in c) for c in cards] == [
        ("7d", 51.0, False),
        ("30d", 64.0, False),
    ]
    assert await reader.team_cards("nobody") == []
    assert await reader.windows() == ["7d", "30d"]
    assert await reader.teams() == ["north"]


async def test_alerts_newest_first_per_rep_without_repeats(
    redis_client: redis.asyncio.Redis, prefix: str, reader: RedisScorecardReader
) -> None:
    """A re-sent alert (same id) shows once; a bad entry is skipped, not fatal."""
    keys = reader.keys
    start = await reader.last_alert_id()
    assert start == "0-0"
    await append_alert(redis_client, keys, alert("a1", "ana"))
    await redis_client.xadd(keys.alerts, {"alert": "not json"})
    await append_alert(redis_client, keys, alert("a2", "bob"))
    await append_alert(redis_client, keys, alert("a1", "ana"))
    await append_alert(redis_client, keys, alert("a3", "ana"))
    assert [a.alert_id for a in await reader.latest_alerts(10)] == ["a3", "a1", "a2"]
    assert [a.alert_id for a in await reader.latest_alerts(1, rep_id="ana")] == ["a3"]
    last, followed = await reader.alerts_after(start, block_ms=50)
    assert [a.alert_id for a in followed] == ["a1", "a2", "a3"]
    assert last == await reader.last_alert_id()
    assert await reader.alerts_after(last, block_ms=50) == (last, [])


def alert(alert_id: str, rep_id: str) -> CoachingAlert:
    return CoachingAlert(
        alert_id=alert_id, rule="no_calls", kind="inactivity", severity="info", rep_id=rep_id,
        team_id="north", window=None, period="2026-03-09", as_of=date(2026, 3, 11), evidence={},
        text="No calls logged for 3 working days.", raised_at=datetime(2026, 3, 11, tzinfo=UTC),
    )  # fmt: skip
