"""Who sees what on ``serve``: every page and API route against every role, both ways.

The board (tests/streams/web/conftest.py): ana and bob in team north, cyd and dan in
south; alert a1 is ana's (north), a2 cyd's (south). Tokens are granted with the real
``scorestream access grant --json`` and sent as bearer headers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio
from typer.testing import CliRunner

from schemas.access import Grant, Role, Session, token_digest
from sinks.redis_access import RedisGrants
from sinks.redis_alerts import append_alert
from sinks.redis_keys import RedisKeys
from sinks.redis_sessions import RedisSessions
from streams.cli.main import app
from streams.web.access import COOKIE
from tests.sinks.redis_support import card, write_cards
from tests.streams.web.conftest import TOKEN, alert

pytestmark = pytest.mark.redis

ROLES = ("admin", "web", "manager", "rep", "display")
BROWSER = {"Accept": "text/html"}
Y, X = 200, 403  # allowed, refused

# path: expected status for admin, web token, manager of north, rep ana, display
MATRIX: dict[str, tuple[int, int, int, int, int]] = {
    "/api/leaderboard": (Y, Y, Y, Y, Y),
    "/api/leaderboard?team=south": (Y, Y, Y, Y, Y),
    "/api/leaderboard?by=financial": (Y, Y, Y, Y, Y),
    "/api/leaderboard?by=kpi:revenue_won": (Y, Y, Y, X, X),
    "/api/reps/ana": (Y, Y, Y, Y, X),
    "/api/reps/bob": (Y, Y, Y, X, X),
    "/api/reps/cyd": (Y, Y, X, X, X),
    "/api/teams/north": (Y, Y, Y, X, X),
    "/api/teams/south": (Y, Y, X, X, X),
    "/api/scorecard": (Y, Y, X, X, X),
    "/api/alerts": (Y, Y, Y, Y, X),
    "/api/alerts?rep=ana": (Y, Y, Y, Y, X),
    "/api/alerts?rep=cyd": (Y, Y, X, X, X),
    "/api/stream": (Y, Y, Y, Y, Y),
    "/openapi.json": (Y, Y, Y, Y, Y),
    "/docs": (Y, Y, Y, Y, Y),
    "/": (Y, Y, Y, Y, Y),
    "/?tv=1&cycle=teams": (Y, Y, Y, Y, Y),
    "/?by=kpi:calls_logged": (Y, Y, Y, X, X),
    "/reps/ana": (Y, Y, Y, Y, X),
    "/reps/bob": (Y, Y, Y, X, X),
    "/reps/cyd": (Y, Y, X, X, X),
    "/teams/north": (Y, Y, Y, X, X),
    "/teams/south": (Y, Y, X, X, X),
    "/alerts": (Y, Y, Y, Y, X),
    "/scorecard": (Y, Y, X, X, X),
}


def grant(env: dict[str, str], *options: str) -> tuple[str, str]:
    """``scorestream access grant ... --json``: the grant's id and its token."""
    result = CliRunner().invoke(app, ["access", "grant", *options, "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    return body["id"], body["token"]


@pytest.fixture(name="tokens")
def fixture_tokens(env: dict[str, str]) -> dict[str, str]:
    return {
        "admin": grant(env, "--role", "admin")[1],
        "web": TOKEN,
        "manager": grant(env, "--role", "manager", "--team", "north")[1],
        "rep": grant(env, "--role", "rep", "--rep", "ana")[1],
        "display": grant(env, "--role", "display", "--expires", "30d")[1],
    }


def get(base: str, path: str, token: str | None = None, **headers: str) -> httpx.Response:
    sent = {**headers, **({"Authorization": f"Bearer {token}"} if token else {})}
    if path == "/api/stream":  # the status and the first line, then hang up
        with httpx.stream("GET", base + path, headers=sent, timeout=10) as response:
            if response.status_code == 200:
                assert next(response.iter_lines()).startswith("retry:")
            else:
                response.read()
            return response
    return httpx.get(base + path, headers=sent, timeout=10)


@pytest.mark.parametrize("path", MATRIX)
def test_each_role_gets_exactly_its_routes(guarded: str, tokens: dict[str, str], path: str) -> None:
    """Allowed is 200; refused is 403 with what the role allows (JSON or a page); nobody
    signed in is 401 on the API and the sign-in form for a browser."""
    for role, expected in zip(ROLES, MATRIX[path], strict=True):
        response = get(guarded, path, tokens[role], **BROWSER)
        assert response.status_code == expected, (role, path, response.text[:300])
        if expected == X:
            allows = "a rep sees" if role == "rep" else f"a {role} sees"
            if path.startswith("/api"):
                assert response.json()["role"] == role and allows in response.json()["detail"]
            else:
                assert "text/html" in response.headers["content-type"]
                assert allows in response.text
    nobody = get(guarded, path)
    assert nobody.status_code == 401, path
    if not path.startswith("/api") and path != "/openapi.json":
        browser = get(guarded, path, **BROWSER)
        assert browser.status_code == 303 and browser.headers["location"].startswith("/signin")


def alert_ids(base: str, token: str, path: str = "/api/alerts") -> list[str]:
    response = get(base, path, token)
    assert response.status_code == 200, response.text
    return sorted(a["alert_id"] for a in response.json()["alerts"])


def test_each_role_reads_only_the_alerts_it_may(guarded: str, tokens: dict[str, str]) -> None:
    assert alert_ids(guarded, tokens["admin"]) == ["a1", "a2"]
    assert alert_ids(guarded, tokens["web"]) == ["a1", "a2"]
    assert alert_ids(guarded, tokens["manager"]) == ["a1"]  # north's; cyd's is south's
    assert alert_ids(guarded, tokens["rep"]) == ["a1"]  # ana's own
    assert "No calls" in get(guarded, "/alerts", tokens["rep"]).text
    assert "unhappy" not in get(guarded, "/alerts", tokens["rep"]).text
    assert "unhappy" not in get(guarded, "/reps/ana", tokens["manager"]).text


def test_a_manager_of_the_directory_manages_its_reps_teams(
    guarded: str, env: dict[str, str], redis_url: str, prefix: str
) -> None:
    """``--email``: the teams come from the reps whose manager_email it is."""

    async def directory() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        entry = orjson.dumps({"team_id": "south", "manager_email": "Max@x.com"})
        await client.hset(RedisKeys(prefix).directory, "cyd", entry)
        await client.aclose()

    asyncio.run(directory())
    _, token = grant(env, "--role", "manager", "--email", "max@x.com")
    assert get(guarded, "/api/reps/cyd", token).status_code == 200
    assert get(guarded, "/api/teams/south", token).status_code == 200
    assert get(guarded, "/api/reps/ana", token).status_code == 403


def test_revoked_expired_tampered_and_unknown_tokens_are_refused(
    guarded: str, env: dict[str, str], redis_url: str, prefix: str
) -> None:
    grant_id, token = grant(env, "--role", "rep", "--rep", "ana")
    assert get(guarded, "/api/reps/ana", token).status_code == 200
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x",
                token.replace("ss_", "ss_x"), "ss_abcdefabcdef_guess"):  # fmt: skip
        assert get(guarded, "/api/reps/ana", bad).status_code == 401, bad

    listed = CliRunner().invoke(app, ["access", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    (entry,) = [g for g in orjson.loads(listed.stdout) if g["id"] == grant_id]
    assert entry["role"] == "rep" and entry["rep_id"] == "ana"
    assert token not in listed.stdout and "token_sha256" not in listed.stdout

    revoked = CliRunner().invoke(app, ["access", "revoke", grant_id], env=env)
    assert revoked.exit_code == 0, revoked.output
    started = time.monotonic()
    assert get(guarded, "/api/reps/ana", token).status_code == 401
    assert time.monotonic() - started < 1.0
    again = CliRunner().invoke(app, ["access", "revoke", grant_id], env=env)
    assert again.exit_code == 1 and "no grant" in again.stderr

    async def expired() -> str:
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        old = "ss_expiredgrant_" + "s" * 43
        past = datetime.now(UTC) - timedelta(days=2)
        await RedisGrants(client, prefix).add(Grant(
            id="expiredgrant", role=Role.DISPLAY, granted_at=past, granted_by="t",
            expires_at=past + timedelta(days=1), token_sha256=token_digest(old),
        ))  # fmt: skip
        await client.aclose()
        return old

    assert get(guarded, "/api/leaderboard", asyncio.run(expired())).status_code == 401


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--role", "rep"], "needs --rep"),
        (["--role", "manager"], "needs --team"),
        (["--role", "display", "--team", "north"], "not display"),
        (["--role", "rep", "--rep", "ana", "--expires", "soon"], "--expires 'soon'"),
        (["--role", "boss"], "boss"),
    ],
)
def test_grant_refuses_a_scope_that_does_not_fit(
    env: dict[str, str], options: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["access", "grant", *options], env=env)
    assert result.exit_code == 2 and message in result.output + result.stderr


def listen(base: str, token: str, events: list[tuple[str, dict[str, Any]]]) -> threading.Event:
    """Collect ``token``'s stream events in a thread; set the returned event once connected."""
    connected = threading.Event()

    def run() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", f"{base}/api/stream", headers=headers, timeout=20) as response:
            kind = ""
            for line in response.iter_lines():
                connected.set()
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((kind, orjson.loads(line.removeprefix("data: "))))
                    if events[-1][1].get("rep_id") == "end":
                        return

    threading.Thread(target=run, daemon=True).start()
    return connected


def test_the_stream_sends_each_role_only_what_it_may_see(
    guarded: str, tokens: dict[str, str], redis_url: str, prefix: str
) -> None:
    """Alerts of ana (north) and cyd (south), then a card: each listener stops at the card."""
    seen: dict[str, list[tuple[str, dict[str, Any]]]] = {r: [] for r in ROLES}
    for role in ROLES:
        assert listen(guarded, tokens[role], seen[role]).wait(10), role

    async def write() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        keys = RedisKeys(prefix)
        await append_alert(client, keys, alert("s1", "ana", "Ana's coaching."))
        await append_alert(client, keys, alert("s2", "cyd", "Cyd's coaching.", "south"))
        await asyncio.sleep(1.5)  # both alerts out before the card (another stream)
        await write_cards(client, prefix, [card("end", "south", 50.0)])
        await client.aclose()

    asyncio.run(write())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
        seen[r] and seen[r][-1][1].get("rep_id") == "end" for r in ROLES
    ):
        time.sleep(0.1)
    alerts = {r: [data["alert_id"] for kind, data in seen[r] if kind == "alert"] for r in ROLES}
    assert alerts == {"admin": ["s1", "s2"], "web": ["s1", "s2"], "manager": ["s1"],
                      "rep": ["s1"], "display": []}  # fmt: skip
    for role in ROLES:
        assert ("scorecard", "end") in [(k, d.get("rep_id")) for k, d in seen[role]], role


def test_sessions_end_with_their_grant_their_expiry_or_a_forged_cookie(
    guarded: str, env: dict[str, str], redis_url: str, prefix: str
) -> None:
    """A browser signed in with a granted token is out once the grant is revoked; an
    expired session and a cookie nobody issued open nothing."""
    grant_id, token = grant(env, "--role", "rep", "--rep", "ana")
    with httpx.Client(base_url=guarded, headers=BROWSER, timeout=10) as browser:
        assert browser.post("/signin", data={"token": token}).status_code == 303
        assert browser.get("/reps/ana").status_code == 200
        assert browser.get("/reps/bob").status_code == 403  # the grant's role, not more
        assert CliRunner().invoke(app, ["access", "revoke", grant_id], env=env).exit_code == 0
        assert browser.get("/reps/ana").status_code == 303  # back to the sign-in form

    async def expired_session() -> str:
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        now = datetime.now(UTC)
        cookie = "expired-session-cookie-value"
        session = Session(email="boss@x.com", created_at=now - timedelta(hours=13),
                          expires_at=now - timedelta(hours=1))  # fmt: skip
        await RedisSessions(client, prefix).start(cookie, session)
        await client.aclose()
        return cookie

    for cookie in (asyncio.run(expired_session()), "forged-cookie-value"):
        answer = httpx.get(f"{guarded}/api/leaderboard", cookies={COOKIE: cookie})
        assert answer.status_code == 401, cookie


def test_the_navigation_shows_only_what_opens(guarded: str, tokens: dict[str, str]) -> None:
    links = {
        role: {p for p in ("/alerts", "/scorecard")
               if f'href="{p}"' in get(guarded, "/", tokens[role]).text}
        for role in ROLES
    }  # fmt: skip
    assert links == {"admin": {"/alerts", "/scorecard"}, "web": {"/alerts", "/scorecard"},
                     "manager": {"/alerts"}, "rep": {"/alerts"}, "display": set()}  # fmt: skip
