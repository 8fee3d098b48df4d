"""``scorestream show`` and ``leaderboard`` as users call them, over cards the sink wrote.

The commands are mounted on a local typer app (streams.cli registers them too);
Redis is the real one, under a prefix private to each test.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio
import typer
from typer.testing import CliRunner

from schemas.kpi_names import KpiName
from schemas.scorecard_definition import load_definition
from schemas.settings import Settings
from scorers.replay import Replay
from scorers.scoring import Scorecard
from sinks.redis_calls import RedisCalls
from sinks.redis_definitions import RedisDefinitionSink
from streams.cli.leaderboard import Board, _follow, leaderboard
from streams.cli.show import show
from streams.runtime.connections import scorecard_reader
from streams.views.reading import RedisScorecardReader
from tests.sinks.redis_support import card, new_prefix, write_cards

pytestmark = pytest.mark.redis

EVENTS = [
    b'{"event_id":"u1","event_type":"rep_upserted","occurred_at":"2026-03-01T08:00:00+00:00",'
    b'"rep_id":"ana","name":"Ana","team_id":"north","monthly_quota":30000}',
    b'{"event_id":"w1","event_type":"deal_won","occurred_at":"2026-03-09T17:00:00+01:00",'
    b'"rep_id":"ana","deal_id":"d1","amount":5000,"opened_at":"2026-02-20T09:00:00+01:00"}',
    b'{"event_id":"n1","event_type":"nps_response","occurred_at":"2026-03-10T10:00:00+00:00",'
    b'"rep_id":"ana","account_id":"acme","score":9}',
    b'{"event_id":"c1","event_type":"call_logged","occurred_at":"2026-03-10T23:30:00-05:00",'
    b'"rep_id":"bob","team_id":"north","call_id":"c","duration_seconds":12,"outcome":"connected"}',
]

app = typer.Typer()
app.command("show")(show)
app.command("leaderboard")(leaderboard)
runner = CliRunner()


def write(redis_url: str, prefix: str, cards: list[Scorecard]) -> None:
    async def go() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            await write_cards(client, prefix, cards)
        finally:
            await client.aclose()

    asyncio.run(go())


@pytest.fixture(name="prefix")
def fixture_prefix(redis_url: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(name="env")
def fixture_env(redis_url: str, prefix: str) -> dict[str, str]:
    return {"SCORESTREAM_REDIS_URL": redis_url, "SCORESTREAM_REDIS_PREFIX": prefix}


@pytest.fixture(name="replayed")
def fixture_replayed(redis_url: str, prefix: str) -> list[Scorecard]:
    """Real scorecards (every KPI of the default scorecard) from the replay, written to Redis."""
    engine = Replay(load_definition(None))
    for line_no, line in enumerate(EVENTS, start=1):
        engine.feed(line_no, line)
    result = engine.result()
    write(redis_url, prefix, result.scorecards)
    return result.scorecards


@pytest.fixture(name="board")
def fixture_board(redis_url: str, prefix: str) -> None:
    write(
        redis_url,
        prefix,
        [
            card("cyd", "north", 70.0, revenue=5_000.0, cycle_days=40.0),
            card("ana", "south", 70.0, revenue=9_000.0, cycle_days=12.0),
            card("bob", "north", 70.0, revenue=9_000.0, cycle_days=25.0),
            card("dan", "south", 80.0),
            card("dan", "south", 10.0, window="7d"),
        ],
    )


def run(args: list[str], env: dict[str, str]) -> Any:
    return runner.invoke(app, args, env=env)


# --- show ---


def test_show_json_is_the_replay_shape(env: dict[str, str], replayed: list[Scorecard]) -> None:
    result = run(["show", "ana", "--json"], env)
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert list(out) == ["rep_id", "scorecards"]
    assert out["rep_id"] == "ana"
    expected = [orjson.loads(orjson.dumps(c.to_dict())) for c in replayed if c.rep_id == "ana"]
    order = ["7d", "30d", "90d", "quarter"]
    assert out["scorecards"] == sorted(expected, key=lambda c: order.index(c["window"]))
    fields = [
        *("rep_id", "team_id", "window", "as_of", "overall", "overall_uncapped"),
        "definition_version",
    ]
    assert all(list(c) == [*fields, "perspectives", "kpis"] for c in out["scorecards"])


def test_show_one_window(env: dict[str, str], replayed: list[Scorecard]) -> None:
    result = run(["show", "bob", "--window", "30d", "--json"], env)
    assert result.exit_code == 0, result.output
    assert [c["window"] for c in orjson.loads(result.stdout)["scorecards"]] == ["30d"]


def test_show_human_view_explains_every_kpi(env: dict[str, str], replayed: list[Scorecard]) -> None:
    result = run(["show", "ana", "-w", "30d"], env)
    assert result.exit_code == 0, result.output
    for name in [*(k.value for k in KpiName), "overall", "learning growth", "attain."]:
        assert name in result.stdout, name
    assert "30d as of 2026-03-11" in result.stdout


def test_show_missing_rep_exits_1(env: dict[str, str], replayed: list[Scorecard]) -> None:
    result = run(["show", "nobody"], env)
    assert result.exit_code == 1
    assert "no scorecards for rep 'nobody'" in result.stderr
    missing_window = run(["show", "ana", "--window", "week"], env)
    assert missing_window.exit_code == 1
    assert "no week scorecard for rep 'ana'; it has 7d, 30d, 90d, quarter" in missing_window.stderr


def test_show_bad_window_exits_2(env: dict[str, str]) -> None:
    result = run(["show", "ana", "--window", "fortnight"], env)
    assert result.exit_code == 2
    assert "--window 'fortnight'" in result.stderr


# --- leaderboard ---


@pytest.mark.usefixtures("board")
def test_leaderboard_json_order_limit_team(env: dict[str, str]) -> None:
    result = run(["leaderboard", "--json"], env)
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert list(out) == ["window", "by", "team", "definition_version", "rows"]
    assert (out["window"], out["by"], out["team"]) == ("30d", "overall", None)
    assert out["definition_version"] is None  # no worker has put a version in force here
    assert [(r["rank"], r["rep_id"]) for r in out["rows"]] == [
        (1, "dan"),
        (2, "ana"),
        (3, "bob"),
        (4, "cyd"),
    ]
    assert out["rows"][0] == {
        "rank": 1,
        "rep_id": "dan",
        "team_id": "south",
        "score": 80.0,
        "overall": 80.0,
        "perspectives": dict.fromkeys(
            ["financial", "customer", "internal_process", "learning_growth"], 80.0
        ),
        "overall_since_yesterday": None,
        "rank_since_yesterday": None,
    }

    limited = orjson.loads(run(["leaderboard", "--json", "--limit", "2"], env).stdout)
    assert [r["rep_id"] for r in limited["rows"]] == ["dan", "ana"]
    north = orjson.loads(run(["leaderboard", "--json", "--team", "north"], env).stdout)
    assert north["team"] == "north"
    assert [r["rep_id"] for r in north["rows"]] == ["bob", "cyd"]
    week = orjson.loads(run(["leaderboard", "--json", "-w", "7d"], env).stdout)
    assert [(r["rep_id"], r["score"]) for r in week["rows"]] == [("dan", 10.0)]


@pytest.mark.usefixtures("board")
def test_leaderboard_by_kpi_ranks_lower_is_better_lowest_first(env: dict[str, str]) -> None:
    revenue = orjson.loads(run(["leaderboard", "--json", "--by", "kpi:revenue_won"], env).stdout)
    assert [r["rep_id"] for r in revenue["rows"]] == ["dan", "ana", "bob", "cyd"]
    cycle = orjson.loads(run(["leaderboard", "--json", "--by", "kpi:sales_cycle_days"], env).stdout)
    assert [(r["rep_id"], r["score"]) for r in cycle["rows"]] == [
        ("ana", 12.0),
        ("dan", 20.0),
        ("bob", 25.0),
        ("cyd", 40.0),
    ]


def test_leaderboard_by_open_pipeline(redis_url: str, prefix: str, env: dict[str, str]) -> None:
    """Ranked by kpi:open_pipeline, each rep's score is its open deals' amounts: bob's 20,000
    EUR (21,600 USD) over ana's 12,000 (her 3,000 was lost), the same in every window."""
    pipeline = [
        *EVENTS,
        b'{"event_id":"o1","event_type":"deal_opened","occurred_at":"2026-03-02T09:00:00+00:00",'
        b'"rep_id":"ana","deal_id":"d2","amount":12000,"stage":"proposal"}',
        b'{"event_id":"o2","event_type":"deal_opened","occurred_at":"2026-03-03T09:00:00+00:00",'
        b'"rep_id":"ana","deal_id":"d3","amount":3000}',
        b'{"event_id":"l3","event_type":"deal_lost","occurred_at":"2026-03-05T09:00:00+00:00",'
        b'"rep_id":"ana","deal_id":"d3","opened_at":"2026-03-03T09:00:00+00:00"}',
        b'{"event_id":"o3","event_type":"deal_opened","occurred_at":"2026-03-04T09:00:00+00:00",'
        b'"rep_id":"bob","deal_id":"d4","amount":20000,"currency":"EUR",'
        b'"expected_close":"2026-03-31"}',
    ]
    engine = Replay(load_definition(None))
    for line_no, line in enumerate(pipeline, start=1):
        engine.feed(line_no, line)
    write(redis_url, prefix, engine.result().scorecards)
    for window in ("30d", "quarter"):
        args = ["leaderboard", "--json", "--by", "kpi:open_pipeline", "-w", window]
        board = orjson.loads(run(args, env).stdout)
        assert [(r["rep_id"], r["score"]) for r in board["rows"]] == [
            ("bob", pytest.approx(21_600)),
            ("ana", pytest.approx(12_000)),
        ]
    shown = run(["show", "bob", "-w", "quarter"], env)
    assert shown.exit_code == 0, shown.output
    assert "open_pipeline" in shown.stdout and "21,600" in shown.stdout


@pytest.mark.usefixtures("board")
def test_leaderboard_table(env: dict[str, str]) -> None:
    result = run(["leaderboard", "--by", "kpi:revenue_won", "--team", "south"], env)
    assert result.exit_code == 0, result.output
    assert "Leaderboard 30d team south by kpi:revenue_won" in result.stdout
    assert "dan" in result.stdout and "ana" in result.stdout and "bob" not in result.stdout
    assert "10,000" in result.stdout


def test_show_and_leaderboard_name_the_scorecard_version(
    redis_url: str, prefix: str, env: dict[str, str]
) -> None:
    """A card says which version scored it; the board's title names the version in force."""
    write(redis_url, prefix, [card("ana", version=3), card("bob", overall=70.0, version=3)])

    async def in_force() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            await RedisDefinitionSink(RedisCalls(client), prefix).in_force(3)
        finally:
            await client.aclose()

    asyncio.run(in_force())
    shown = run(["show", "ana"], env)
    assert "ana  30d as of 2026-03-11  team north  scorecard v3  overall 50.0" in shown.stdout
    board = run(["leaderboard"], env)
    assert "Leaderboard 30d by overall · scorecard v3" in board.stdout
    assert orjson.loads(run(["leaderboard", "--json"], env).stdout)["definition_version"] == 3


def test_leaderboard_bad_by_exits_2_with_the_valid_values(env: dict[str, str]) -> None:
    result = run(["leaderboard", "--by", "revenue"], env)
    assert result.exit_code == 2
    assert "--by 'revenue'" in result.stderr
    for valid in ("overall", "financial", "learning_growth", "kpi:nps", "kpi:sales_cycle_days"):
        assert valid in result.stderr


def test_redis_down_names_the_url_and_the_fix(prefix: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://:secret@127.0.0.1:{port}/0"
    env = {"SCORESTREAM_REDIS_URL": url, "SCORESTREAM_REDIS_PREFIX": prefix}
    for args in (["leaderboard"], ["show", "ana"]):
        result = run(args, env)
        assert result.exit_code == 2, result.output
        assert f"Redis at redis://:***@127.0.0.1:{port}/0 does not answer" in result.stderr
        assert "start it with `make up`" in result.stderr
        assert "secret" not in result.stderr


# --- leaderboard --watch ---


async def test_follow_emits_the_board_again_when_a_card_changes(
    redis_url: str, prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    reader = scorecard_reader(Settings(redis_url=redis_url, redis_prefix=prefix))
    boards: list[Board] = []
    try:
        await write_cards(client, prefix, [card("ana", overall=50.0)])

        async def read(r: RedisScorecardReader) -> Board:
            return Board(await r.leaderboard("30d"), await r.definition_in_force())

        stop = asyncio.Event()
        follow = asyncio.create_task(_follow(reader, read, boards.append, stop))
        await _until(lambda: len(boards) == 1)
        await write_cards(client, prefix, [card("bob", overall=60.0)])
        await _until(lambda: len(boards) == 2)
        await asyncio.sleep(0.2)
        assert len(boards) == 2  # nothing new written: nothing new emitted
        stop.set()
        await asyncio.wait_for(follow, timeout=3)  # ends after its current XREAD
    finally:
        await reader.aclose()
        await client.aclose()
    assert [[r.rep_id for r in b.rows] for b in boards] == [["ana"], ["bob", "ana"]]


async def _until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


_WATCH_SCRIPT = """
import typer
from streams.cli.leaderboard import leaderboard
app = typer.Typer()
app.command()(leaderboard)
app()
"""


def _readline(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> bytes:
    """A line of the child's stdout, failing (not hanging) if none comes in time."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    assert ready, f"no output from the watcher in {timeout_s}s"
    return proc.stdout.readline()


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_watch_until_ctrl_c_exits_0(env: dict[str, str], as_json: bool) -> None:
    """A real process: a line per change with --json, then SIGINT ends it cleanly (exit 0).

    Rich's Live on a pipe (not a terminal) prints only its last render, at exit.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _WATCH_SCRIPT, "--watch", *(["--json"] if as_json else [])],
        env={**os.environ, **env, "SCORESTREAM_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if as_json:
            assert orjson.loads(_readline(proc))["rows"] == []
        else:
            time.sleep(1.0)
        write(env["SCORESTREAM_REDIS_URL"], env["SCORESTREAM_REDIS_PREFIX"], [card("ana")])
        if as_json:
            second = orjson.loads(_readline(proc))
            assert [r["rep_id"] for r in second["rows"]] == ["ana"]
        else:
            time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    if not as_json:
        assert b"ana" in out and b"Leaderboard 30d by overall" in out
