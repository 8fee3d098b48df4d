"""What a security review of ``serve`` flags first, each fixed and held here: security
headers, a cap on request bodies, rate limits on guessing, less said to strangers, rep ids
with ``/``, and TLS behind a proxy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio

from schemas.settings import Settings
from streams.web.guards import MAX_BODY_BYTES
from tests.redis_server import free_port
from tests.sinks.redis_support import card, write_cards
from tests.streams.web.conftest import TOKEN
from tests.streams.web.test_roles import grant
from tests.streams.web.web_support import served

pytestmark = pytest.mark.redis

BEARER = {"Authorization": f"Bearer {TOKEN}"}
SCORESTREAM = str(Path(sys.executable).parent / "scorestream")


@pytest.mark.parametrize("path", ["/", "/api/leaderboard", "/signin", "/api/reps/nobody"])
def test_every_answer_has_the_security_headers(guarded: str, path: str) -> None:
    """Pages, the API, the sign-in form and errors alike; no HSTS over plain http."""
    headers = httpx.get(guarded + path, headers=BEARER).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in headers


def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent(guarded: str) -> None:
    """The proxy on loopback says https (X-Forwarded-Proto): the session cookie is Secure."""
    https = {"X-Forwarded-Proto": "https"}
    answer = httpx.post(f"{guarded}/signin", data={"token": TOKEN}, headers=https)
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()
    assert answer.headers["strict-transport-security"].startswith("max-age=")


@pytest.fixture(name="serve_cli")
def fixture_serve_cli(env: dict[str, str]) -> Iterator[Callable[..., str]]:
    """Starts the real ``scorestream serve`` with extra options; returns its base URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> str:
        port = free_port()
        proc = subprocess.Popen(
            [SCORESTREAM, "serve", "--port", str(port), *options],
            env={**env, "SCORESTREAM_WEB_TOKEN": TOKEN},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("serve did not start")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=15)


def test_serve_believes_only_the_proxy_it_is_told_of(serve_cli: Callable[..., str]) -> None:
    https = {"X-Forwarded-Proto": "https", **BEARER}
    trusted = serve_cli("--forwarded-allow-ips", "127.0.0.1")
    assert "strict-transport-security" in httpx.get(f"{trusted}/", headers=https).headers
    ignored = serve_cli("--forwarded-allow-ips", "10.9.9.9")
    assert "strict-transport-security" not in httpx.get(f"{ignored}/", headers=https).headers
    off = serve_cli("--no-proxy-headers")
    assert "strict-transport-security" not in httpx.get(f"{off}/", headers=https).headers
    assert "server" not in httpx.get(f"{off}/healthz").headers  # no version to match


def test_a_large_body_is_refused_before_anything_reads_it(guarded: str) -> None:
    big = b"token=" + b"x" * MAX_BODY_BYTES
    assert httpx.post(f"{guarded}/signin", content=big).status_code == 413
    assert httpx.post(f"{guarded}/signout", content=big).status_code == 413
    assert httpx.post(f"{guarded}/api/alerts", content=big, headers=BEARER).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    assert httpx.post(f"{guarded}/signin", content=chunks()).status_code == 413
    small = httpx.post(f"{guarded}/signin", data={"token": TOKEN})
    assert small.status_code == 303


def test_guessing_tokens_is_slowed_down(guarded: str) -> None:
    """Ten wrong tokens, then the address waits (429 with Retry-After), right token or not."""
    for n in range(10):
        wrong = {"Authorization": f"Bearer ss_abcdefabcdef_guess{n}"}
        assert httpx.get(f"{guarded}/api/leaderboard", headers=wrong).status_code == 401
    locked = httpx.get(f"{guarded}/api/leaderboard", headers=BEARER)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1


def test_guessing_at_the_sign_in_form_is_slowed_down(guarded: str) -> None:
    for n in range(10):
        assert httpx.post(f"{guarded}/signin", data={"token": f"guess-{n}"}).status_code == 401
    assert httpx.post(f"{guarded}/signin", data={"token": TOKEN}).status_code == 429


def test_strangers_learn_less_than_admins(guarded: str, env: dict[str, str]) -> None:
    """A 404 names the Redis prefix only to an admin; a 503 names Redis's address only to
    an admin (the open /healthz says only that it is down)."""
    rep = {"Authorization": f"Bearer {grant(env, '--role', 'rep', '--rep', 'ghost')[1]}"}
    stranger = httpx.get(f"{guarded}/api/reps/ghost", headers=rep)
    assert stranger.status_code == 404
    assert stranger.json() == {"detail": "no scorecards for rep 'ghost'"}
    admin = httpx.get(f"{guarded}/api/reps/ghost", headers=BEARER)
    assert env["SCORESTREAM_REDIS_PREFIX"] in admin.json()["detail"]

    port = free_port()
    down = {**env, "SCORESTREAM_REDIS_URL": f"redis://user:pw@127.0.0.1:{port}/0",
            "SCORESTREAM_WEB_TOKEN": TOKEN}  # fmt: skip
    with served(Settings.from_env(down)) as base:
        health = httpx.get(f"{base}/healthz", timeout=20)
        assert health.status_code == 503 and health.json() == {"detail": "Redis does not answer"}


def test_a_rep_id_with_a_slash_opens_on_the_web(guarded: str, redis_url: str, prefix: str) -> None:
    async def write() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await write_cards(client, prefix, [card("west/ana", "west/1", 99.0)])
        await client.aclose()

    asyncio.run(write())
    board = httpx.get(f"{guarded}/?team=west/1", headers=BEARER).text
    assert 'href="/reps/west%2Fana?window=30d"' in board
    assert 'href="/teams/west%2F1?window=30d"' in board
    page = httpx.get(f"{guarded}/reps/west%2Fana?window=30d", headers=BEARER)
    assert page.status_code == 200 and "west/ana" in page.text
    api = httpx.get(f"{guarded}/api/reps/west%2Fana", headers=BEARER)
    assert api.status_code == 200 and api.json()["rep_id"] == "west/ana"
    assert httpx.get(f"{guarded}/api/teams/west%2F1", headers=BEARER).status_code == 200
