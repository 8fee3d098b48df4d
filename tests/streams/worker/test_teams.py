"""Team scorecards under a new definition version (real Redis for the cards, plain dicts for
the two tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
import redis.asyncio

from schemas.scorecard_definition import load_definition
from scorers.effects import (
    TEAM_UPDATES_PER_MESSAGE,
    TeamUpdate,
    inputs_from_json,
    team_messages,
    team_updates_from_json,
)
from scorers.intake import Message
from sinks.redis_calls import RedisCalls
from sinks.redis_keys import RedisKeys
from sinks.redis_scorecards import RedisScorecardSink
from streams.worker.teams import TeamHandler
from tests.sinks.redis_support import prefixed, stored_json

pytestmark = pytest.mark.redis

OLD = load_definition()
NEW = OLD.model_copy(update={"windows": ["7d", "30d"], "default_monthly_quota": 90_000.0})
AT = "2026-03-11T10:00:00.000+00:00"


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


def member_update(rep: str, windows: list[str], as_of: int = 740_000) -> bytes:
    inputs = {w: [[0] * 20, 30, 1_000.0] for w in windows}
    return orjson.dumps({"team_id": "north", "rep_id": rep, "as_of": as_of, "inputs": inputs})


def on_topic(value: bytes, offset: int = 0) -> Message:
    return Message(b"north", value, "scorestream-team-updates", 0, offset)


async def test_a_new_version_rescores_the_teams_written_here_on_its_windows_only(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """The members' workers switched first and sent their inputs while this worker was on
    version 1: at the switch the team is scored again, on version 2, with no new update;
    inputs a member sent for a window version 2 dropped are left out."""
    teams = TeamHandler(OLD, 1, {}, {}, {}, RedisScorecardSink(RedisCalls(redis_client), prefix))
    assert teams.handle(on_topic(member_update("ana", ["7d", "30d", "90d"]))) is None
    assert teams.handle(on_topic(member_update("bob", ["7d", "30d"]))) is None
    assert await teams.score_marked(AT) == 1
    keys = RedisKeys(prefix)
    card = await stored_json(redis_client, keys.team_card("north", "90d"))
    assert card["definition_version"] == 1
    teams.use(NEW, 2)
    assert await teams.score_marked(AT) == 1  # marked by the switch alone
    for window in ("7d", "30d"):
        card = await stored_json(redis_client, keys.team_card("north", window))
        assert card["definition_version"] == 2
    # Not scored again: the worker's switch takes the 90d cards out (RedisDefinitionSink).
    card = await stored_json(redis_client, keys.team_card("north", "90d"))
    assert card["definition_version"] == 1


async def test_a_worker_started_again_scores_the_teams_whose_marks_a_kill_lost(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Killed after it recorded two members' updates (tables written, team topic acked) and
    before its timer scored them: started again over the same tables, it writes the card a
    worker that was never killed writes."""
    tables: tuple[dict[str, bytes], dict[str, bytes], dict[str, bytes]] = ({}, {}, {})
    killed = TeamHandler(OLD, 1, *tables, RedisScorecardSink(RedisCalls(redis_client), prefix))
    assert killed.handle(on_topic(member_update("ana", list(OLD.windows), as_of=740_001))) is None
    assert killed.handle(on_topic(member_update("bob", list(OLD.windows), as_of=740_000))) is None
    started = TeamHandler(OLD, 1, *tables, RedisScorecardSink(RedisCalls(redis_client), prefix))
    assert await started.score_marked(AT) == 1
    assert await started.score_marked(AT) == 0, "once, not at every tick"

    ref = f"{prefix}ref:"
    reference = TeamHandler(OLD, 1, {}, {}, {}, RedisScorecardSink(RedisCalls(redis_client), ref))
    assert (
        reference.handle(on_topic(member_update("ana", list(OLD.windows), as_of=740_001))) is None
    )
    assert (
        reference.handle(on_topic(member_update("bob", list(OLD.windows), as_of=740_000))) is None
    )
    assert await reference.score_marked(AT) == 1
    for window in OLD.windows:
        restarted = await stored_json(redis_client, RedisKeys(prefix).team_card("north", window))
        never = await stored_json(redis_client, RedisKeys(ref).team_card("north", window))
        assert restarted == never
    # A rebalance loses marks too: the teams owned then are scored again.
    started.forget()
    assert await started.score_marked(AT) == 1


def test_a_batch_sends_each_teams_updates_grouped_in_order_and_in_bounded_messages() -> None:
    """One message per team (not per member), members in the order planned, split past
    ``TEAM_UPDATES_PER_MESSAGE``; read back, they are the updates sent."""
    inputs = inputs_from_json(orjson.dumps({"7d": [[1] * 20, 7, 1_000.0]}))
    north = [TeamUpdate("north", f"rep-{n:03d}", 740_000, inputs) for n in range(120)]
    updates = [*north[:60], TeamUpdate("south", "ana", 740_001), *north[60:]]
    messages = team_messages(updates)
    assert [team for team, _ in messages] == ["north", "north", "north", "south"]
    assert max(len(team_updates_from_json(m)) for _, m in messages) == TEAM_UPDATES_PER_MESSAGE
    read = [u for _, m in messages for u in team_updates_from_json(m)]
    assert read == [*north, TeamUpdate("south", "ana", 740_001)]


async def test_a_grouped_message_records_what_one_message_per_member_does(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """A worker before grouping sent one member per message, which may still be on the topic
    after an upgrade: both shapes leave the same tables and team cards."""
    sink = RedisScorecardSink(RedisCalls(redis_client), prefix)
    ref = f"{prefix}ref:"
    single: tuple[dict[str, bytes], dict[str, bytes], dict[str, bytes]] = ({}, {}, {})
    grouped: tuple[dict[str, bytes], dict[str, bytes], dict[str, bytes]] = ({}, {}, {})
    old = TeamHandler(OLD, 1, *single, RedisScorecardSink(RedisCalls(redis_client), ref))
    new = TeamHandler(OLD, 1, *grouped, sink)
    members = [member_update("ana", list(OLD.windows)), member_update("bob", ["7d"], 740_001)]
    for value in members:
        assert old.handle(on_topic(value)) is None
    grouped_value = orjson.dumps(
        {"team_id": "north", "updates": [{**orjson.loads(v)} for v in members]}
    )
    assert new.handle(on_topic(grouped_value)) is None
    assert grouped == single
    assert await old.score_marked(AT) == await new.score_marked(AT) == 1
    for window in OLD.windows:
        got = await stored_json(redis_client, RedisKeys(prefix).team_card("north", window))
        want = await stored_json(redis_client, RedisKeys(ref).team_card("north", window))
        assert got == want


def hostile_team_messages() -> list[tuple[bytes, str]]:
    """(value, reason): bytes that are not a team message, of every kind we can think of."""
    good = orjson.loads(member_update("ana", ["7d"]))
    inputs = good["inputs"]

    def with_(**fields: object) -> bytes:
        return orjson.dumps({**good, **fields})

    return [
        (b"", "invalid_json"),
        (b"\x00\xff garbage", "invalid_json"),
        (member_update("ana", ["7d"])[:-5], "invalid_json"),
        (b"[" * 20_000 + b"]" * 20_000, "invalid_json"),
        (b'{"team_id": "\xff\xfe", "rep_id": "ana"}', "invalid_json"),
        (b"null", "invalid_event"),
        (b"[]", "invalid_event"),
        (b"{}", "invalid_event"),
        (orjson.dumps({"team_id": "north", "updates": []}), "invalid_event"),
        (orjson.dumps({"team_id": "north", "updates": "ana"}), "invalid_event"),
        (with_(team_id=""), "invalid_event"),
        (with_(team_id=7), "invalid_event"),
        (with_(rep_id=None), "invalid_event"),
        (with_(as_of="2026-03-11"), "invalid_event"),
        (with_(as_of=0), "invalid_event"),
        (with_(as_of=10**12), "invalid_event"),
        (with_(as_of=True), "invalid_event"),
        (with_(inputs=[1, 2]), "invalid_event"),
        (with_(inputs={"7d": [[0] * 20, 30]}), "invalid_event"),
        (with_(inputs={"7d": [["0"] * 20, 30, 1_000.0]}), "invalid_event"),
        (with_(inputs={"7d": [[2**62] * 20, 30, 1_000.0]}), "invalid_event"),
        (with_(inputs={"7d": [[0] * 20, -1, 1_000.0]}), "invalid_event"),
        (with_(inputs={"7d": [[0] * 20, 30, 1_000.0, 1, 2]}), "invalid_event"),
        (with_(inputs={**inputs, "": inputs["7d"]}), "invalid_event"),
        (member_update("ana", ["7d"]).replace(b"1000.0", b"NaN"), "invalid_event"),
        (member_update("ana", ["7d"]).replace(b"1000.0", b"1e400"), "invalid_event"),
    ]


@pytest.mark.parametrize(("value", "reason"), hostile_team_messages())
async def test_a_message_that_is_not_a_team_message_is_refused_and_changes_nothing(
    redis_client: redis.asyncio.Redis, prefix: str, value: bytes, reason: str
) -> None:
    """Any bytes on the team topic: refused with a reason naming what is wrong, the tables
    and the marks untouched, and the messages after it taken as if it had never come."""
    tables: tuple[dict[str, bytes], dict[str, bytes], dict[str, bytes]] = ({}, {}, {})
    teams = TeamHandler(OLD, 1, *tables, RedisScorecardSink(RedisCalls(redis_client), prefix))
    rejected = teams.handle(on_topic(value, offset=41))
    assert rejected is not None
    assert (rejected.reason.value, rejected.message.offset) == (reason, 41)
    assert rejected.detail
    assert tables == ({}, {}, {})
    assert await teams.score_marked(AT) == 0
    assert teams.handle(on_topic(member_update("ana", ["7d"]), offset=42)) is None
    assert await teams.score_marked(AT) == 1
    card = await stored_json(redis_client, RedisKeys(prefix).team_card("north", "7d"))
    assert card["team_id"] == "north"
