"""CRM ids are anyone's text (1-256 characters): every CLI view shows them as themselves,
never as rich markup (``[/]`` crashed the leaderboard) nor as terminal control sequences."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio
import yaml
from typer.testing import CliRunner

from schemas.scorecard_definition import load_definition
from streams.cli.main import app
from streams.views.formatting import one_line, plain
from tests.scorers.builders import call, won
from tests.sinks.redis_support import card, delete_prefix, new_prefix, write_cards

HOSTILE = "[/]"
MARKUP = "[bold red]boss[/]"
ESCAPES = "eve\x1b[2J\x1b]0;pwned\x07\x9b31m"
WIDE = {"COLUMNS": "200"}
"""Wide enough that no table wraps an id."""


def test_plain_escapes_markup_and_strips_controls() -> None:
    assert one_line(ESCAPES) == "eve [2J ]0;pwned 31m"
    assert plain(HOSTILE) == "\\[/]"
    assert one_line(None) == "?"


@pytest.fixture(name="env")
def fixture_env(redis_url: str) -> Iterator[dict[str, str]]:
    prefix = new_prefix()

    async def board() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await write_cards(client, prefix, [card(HOSTILE, MARKUP, 90.0), card(ESCAPES, "t", 80.0)])
        await client.aclose()

    asyncio.run(board())
    yield {"SCORESTREAM_REDIS_URL": redis_url, "SCORESTREAM_REDIS_PREFIX": prefix, **WIDE}

    async def cleanup() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await delete_prefix(client, prefix)
        await client.aclose()

    asyncio.run(cleanup())


@pytest.mark.redis
def test_leaderboard_and_show_print_hostile_ids_as_text(env: dict[str, str]) -> None:
    board = CliRunner().invoke(app, ["leaderboard"], env=env)
    assert board.exit_code == 0, board.output
    assert HOSTILE in board.stdout and MARKUP in board.stdout
    assert "\x1b" not in board.stdout and "\x9b" not in board.stdout and "\x07" not in board.stdout
    for rep in (HOSTILE, ESCAPES):
        shown = CliRunner().invoke(app, ["show", rep], env=env)
        assert shown.exit_code == 0, shown.output
        assert "\x1b" not in shown.stdout and "\x9b" not in shown.stdout
    assert HOSTILE in CliRunner().invoke(app, ["show", HOSTILE], env=env).stdout


def test_replay_and_scorecard_diff_print_hostile_ids_as_text(tmp_path: Path) -> None:
    events = [won("2026-06-08", "a1", 100, "2026-06-01", rep=HOSTILE),
              call("2026-06-10", rep=ESCAPES), call("2026-06-10", rep=MARKUP)]  # fmt: skip
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(e.model_dump_json().encode() for e in events) + b"\n")
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    data = load_definition().model_dump(mode="json")
    old.write_text(yaml.safe_dump(data))
    data["perspectives"]["financial"]["weight"] = 0.6
    new.write_text(yaml.safe_dump(data))
    for args in (
        ["replay", str(log)],
        ["scorecard", "diff", str(old), str(new), "--log", str(log)],
    ):
        result = CliRunner().invoke(app, args, env=WIDE)
        assert result.exit_code == 0, (args, result.output)
        assert HOSTILE in result.stdout and MARKUP in result.stdout, args
        assert "\x1b" not in result.stdout and "\x9b" not in result.stdout, args
