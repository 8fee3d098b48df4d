"""The JSON API on a real server over the real Redis: the CLI's bodies, errors, the stream."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio
from typer.testing import CliRunner

from schemas.settings import Settings
from sinks.redis_alerts import append_alert
from sinks.redis_keys import RedisKeys
from streams.cli.main import app
from streams.views.rankings import RANK_BY
from streams.web import models
from tests.sinks.redis_support import card, write_cards
from tests.streams.web.conftest import alert
from tests.streams.web.web_support import served

pytestmark = pytest.mark.redis

runner = CliRunner()


def cli_json(args: list[str], env: dict[str, str]) -> Any:
    result = runner.invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("", []),
        ("?window=7d", ["--window", "7d"]),
        ("?by=customer&team=north", ["--by", "customer", "--team", "north"]),
        ("?by=kpi:sales_cycle_days&limit=2", ["--by", "kpi:sales_cycle_days", "--limit", "2"]),
        ("?team=", []),
    ],
)
def test_leaderboard_is_the_cli_body(
    base: str, env: dict[str, str], query: str, args: list[str]
) -> None:
    response = get(f"{base}/api/leaderboard{query}")
    assert response.status_code == 200
    assert response.json() == cli_json(["leaderboard", *args], env)
    models.Leaderboard.model_validate(response.json())


def test_leaderboard_ranks_ties_by_uncapped_overall_and_shows_the_day_move(base: str) -> None:
    body = get(f"{base}/api/leaderboard").json()
    assert (body["window"], body["by"], body["team"]) == ("30d", "overall", None)
    rows = [(r["rank"], r["rep_id"], r["score"], r["rank_since_yesterday"]) for r in body["rows"]]
    assert rows == [(1, "bob", 100.0, 1), (2, "ana", 100.0, -1), (3, "cyd", 70.0, None),
                    (4, "dan", 60.0, None)]  # fmt: skip
    assert body["rows"][0]["overall_since_yesterday"] == 30.0
    assert body["rows"][0]["team_id"] == "north"
    fastest = get(f"{base}/api/leaderboard", params={"by": "kpi:sales_cycle_days"}).json()
    # Lower is better; bob, ana and dan tie at 20 days: the uncapped overall decides.
    assert [(r["rep_id"], r["score"]) for r in fastest["rows"]] == [
        ("bob", 20.0), ("ana", 20.0), ("dan", 20.0), ("cyd", 40.0)
    ]  # fmt: skip


def test_the_board_and_the_cards_name_the_version_in_force(base: str) -> None:
    """The leaderboard names the version the workers put in force; each card the version
    that scored it."""
    assert get(f"{base}/api/leaderboard").json()["definition_version"] == 2
    assert get(f"{base}/api/reps/ana").json()["scorecards"][0]["definition_version"] == 2
    team = get(f"{base}/api/teams/north").json()
    assert team["members"]["definition_version"] == 2


def test_scorecard_is_the_version_in_force_with_what_it_changed(base: str) -> None:
    """Version 2: its note, publisher, the two changes from version 1 (by hand), its
    definition, and both versions newest first."""
    response = get(f"{base}/api/scorecard")
    assert response.status_code == 200
    body = response.json()
    models.DefinitionInForce.model_validate(body)
    assert (body["version"], body["status"], body["previous"]) == (2, "in force", 1)
    assert (body["note"], body["published_by"]) == ("Customers first this quarter", "maria")
    assert [(c["kind"], c["path"], c["old"], c["new"]) for c in body["changes"]] == [
        ("weight", "perspectives.customer.weight", 0.25, 0.4),
        ("target", "kpis.nps.target", {"absolute": 50.0}, {"absolute": 40.0}),
    ]
    assert body["definition"]["perspectives"]["customer"] == {"weight": 0.4}
    assert [(v["version"], v["status"]) for v in body["versions"]] == [
        (2, "in force"), (1, "superseded")
    ]  # fmt: skip
    assert body["versions"][1]["changes"] is None  # the first has nothing before it


def test_scorecard_before_any_version_is_a_404(env: dict[str, str], redis_url: str) -> None:
    with served(Settings.from_env({**env, "SCORESTREAM_REDIS_PREFIX": "test-empty"})) as empty:
        response = get(f"{empty}/api/scorecard")
    assert response.status_code == 404
    assert "no scorecard version in force" in response.json()["detail"]


def test_rep_is_the_show_body(base: str, env: dict[str, str]) -> None:
    response = get(f"{base}/api/reps/ana")
    assert response.status_code == 200
    body = response.json()
    assert body == cli_json(["show", "ana"], env)
    assert body["rep_id"] == "ana" and [c["window"] for c in body["scorecards"]] == ["30d"]
    kpi = body["scorecards"][0]["kpis"]["revenue_won"]
    assert kpi == {"value": 10000.0, "target": 20000.0, "attainment": 0.5, "samples": 3,
                   "contribution": 10.0}  # fmt: skip
    models.Rep.model_validate(body)
    dan = get(f"{base}/api/reps/dan", params={"window": "7d"}).json()
    assert dan == cli_json(["show", "dan", "--window", "7d"], env)
    assert [c["overall"] for c in dan["scorecards"]] == [80.0]


def test_unknown_rep_team_or_window_is_a_404_that_says_so(base: str, prefix: str) -> None:
    missing = get(f"{base}/api/reps/nobody")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": f"no scorecards for rep 'nobody' under prefix {prefix!r}"
        " (is the id right, and has the worker scored this rep yet?)"
    }
    window = get(f"{base}/api/reps/ana", params={"window": "quarter"})
    assert (window.status_code, window.json()) == (
        404,
        {"detail": "no quarter scorecard for rep 'ana'; it has 30d"},
    )
    team = get(f"{base}/api/teams/nobody")
    assert team.status_code == 404
    assert team.json()["detail"].startswith("no scorecards for team 'nobody'")


def test_bad_window_or_by_is_a_422_naming_the_parameter_and_the_allowed_values(base: str) -> None:
    by = get(f"{base}/api/leaderboard", params={"by": "revenue"})
    assert by.status_code == 422
    (error,) = by.json()["detail"]
    assert error["loc"] == ["query", "by"] and error["input"] == "revenue"
    assert error["ctx"]["allowed"] == list(RANK_BY)
    assert error["msg"].startswith("by 'revenue': use one of overall, financial, customer")

    for url in (f"{base}/api/leaderboard", f"{base}/api/reps/ana", f"{base}/api/teams/north"):
        window = get(url, params={"window": "fortnight"})
        assert window.status_code == 422, url
        (error,) = window.json()["detail"]
        assert error["loc"] == ["query", "window"]
        assert "Nd (e.g. 30d), week, month or quarter" in error["msg"]
        assert {"7d", "30d", "quarter"} <= set(error["ctx"]["allowed"])

    limit = get(f"{base}/api/leaderboard", params={"limit": "0"})
    assert limit.status_code == 422 and limit.json()["detail"][0]["loc"] == ["query", "limit"]


def test_team_card_and_members(base: str) -> None:
    body = get(f"{base}/api/teams/north").json()
    models.Team.model_validate(body)
    assert body["team_id"] == "north"
    assert [(c["window"], c["overall"], "rep_id" in c) for c in body["scorecards"]] == [
        ("30d", 88.0, False)
    ]
    members = body["members"]
    assert (members["window"], members["by"], members["team"]) == ("30d", "overall", "north")
    assert [r["rep_id"] for r in members["rows"]] == ["bob", "ana"]


def test_alerts_newest_first(base: str) -> None:
    body = get(f"{base}/api/alerts").json()
    models.Alerts.model_validate(body)
    assert [(a["alert_id"], a["rep_id"], a["text"]) for a in body["alerts"]] == [
        ("a2", "cyd", "Customers are unhappy."),
        ("a1", "ana", "No calls for 3 days."),
    ]
    assert [a["alert_id"] for a in get(f"{base}/api/alerts?limit=1").json()["alerts"]] == ["a2"]
    assert [a["alert_id"] for a in get(f"{base}/api/alerts?rep=ana").json()["alerts"]] == ["a1"]


def test_healthz_and_openapi(base: str) -> None:
    assert get(f"{base}/healthz").json() == {"status": "ok"}
    spec = get(f"{base}/openapi.json").json()
    assert {"/api/leaderboard", "/api/reps/{rep_id}", "/api/teams/{team_id}", "/api/alerts",
            "/api/stream", "/healthz"} <= set(spec["paths"])  # fmt: skip
    docs = get(f"{base}/docs").text
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert get(f"{base}/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_redis_down_is_a_503(env: dict[str, str]) -> None:
    from tests.redis_server import free_port

    down = {**env, "SCORESTREAM_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    with served(Settings.from_env(down)) as base:
        health = get(f"{base}/healthz")
        assert health.status_code == 503
        assert "does not answer" in health.json()["detail"]
        assert get(f"{base}/api/leaderboard").status_code == 503


def test_stream_sends_a_scorecard_event_per_card_and_an_alert_event(
    base: str, redis_url: str, prefix: str
) -> None:
    """Written after the client connected: one ``scorecard`` per rep card (team cards are
    left out), then one ``alert``."""
    events: list[tuple[str, dict[str, Any]]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{base}/api/stream", timeout=20) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in response.iter_lines():
                connected.set()
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((kind, orjson.loads(line.removeprefix("data: "))))
                    if kind == "alert":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10), "no first line (retry:) from /api/stream"

    async def write() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await write_cards(client, prefix, [card("eve", "south", 55.5), card(None, "south", 61.0)])
        await append_alert(client, RedisKeys(prefix), alert("a9", "eve", "Well done."))
        await client.aclose()

    asyncio.run(write())
    listener.join(timeout=10)
    assert not listener.is_alive(), f"no alert event; got {events}"
    assert events[0] == (
        "scorecard",
        {"rep_id": "eve", "team_id": "south", "window": "30d", "as_of": "2026-03-11",
         "overall": 55.5, "delta": 55.5},  # a first card: its change is from nothing
    )  # fmt: skip
    assert [kind for kind, _ in events] == ["scorecard", "alert"]
    assert events[1][1]["alert_id"] == "a9" and events[1][1]["text"] == "Well done."
