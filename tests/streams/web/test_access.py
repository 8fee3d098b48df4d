"""SCORESTREAM_WEB_TOKEN (an admin token): bearer for programs, sign-in form and a
server-side session for browsers; and ``serve`` refusing to open a non-loopback host
without it."""

from __future__ import annotations

import re

import httpx
import pytest
from typer.testing import CliRunner

from streams.cli.main import app
from streams.cli.serve import is_loopback
from streams.web.access import COOKIE
from tests.streams.web.conftest import TOKEN

pytestmark = pytest.mark.redis

BEARER = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def test_every_page_and_api_call_needs_the_token(guarded: str) -> None:
    for path in ("/api/leaderboard", "/api/reps/ana", "/api/alerts", "/api/stream", "/docs",
                 "/openapi.json", "/"):  # fmt: skip
        response = httpx.get(guarded + path, timeout=10)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "'Authorization: Bearer TOKEN'" in response.json()["detail"]
    wrong = httpx.get(f"{guarded}/api/leaderboard", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_a_bearer_token_opens_the_api(guarded: str, base: str) -> None:
    answer = httpx.get(f"{guarded}/api/leaderboard", headers=BEARER, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == httpx.get(f"{base}/api/leaderboard", timeout=10).json()
    assert httpx.get(f"{guarded}/api/reps/ana", headers=BEARER).json()["rep_id"] == "ana"


def test_healthz_and_the_sign_in_form_are_open(guarded: str) -> None:
    assert httpx.get(f"{guarded}/healthz").json() == {"status": "ok"}
    form = httpx.get(f"{guarded}/signin")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert httpx.get(f"{guarded}/static/scorestream.css").status_code == 200


def test_a_browser_signs_in_and_gets_an_http_only_cookie(guarded: str) -> None:
    with httpx.Client(base_url=guarded, headers=BROWSER, timeout=10) as browser:
        first = browser.get("/reps/ana?window=30d")
        assert first.status_code == 303
        assert first.headers["location"] == "/signin?next=/reps/ana%3Fwindow%3D30d"

        refused = browser.post("/signin", data={"token": "guess-guess-guess", "next": "/reps/ana"})
        assert refused.status_code == 401 and "does not open this server" in refused.text
        assert COOKIE not in browser.cookies

        signed_in = browser.post("/signin", data={"token": TOKEN, "next": "/reps/ana?window=30d"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/reps/ana?window=30d"
        set_cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        assert "max-age=43200" in set_cookie  # the session's 12 hours, not forever
        cookie = browser.cookies[COOKIE]
        assert TOKEN not in cookie and len(cookie) >= 40  # random, not derived from the token

        page = browser.get("/reps/ana")
        assert page.status_code == 200 and "Revenue won" in page.text
        assert browser.get("/api/alerts").status_code == 200  # the page's own script calls

        forged = browser.post("/signout", data={"csrf": "guess"})
        assert forged.status_code == 403  # another site's form cannot sign anyone out
        assert browser.get("/reps/ana").status_code == 200
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf is not None, "the page has no sign-out form"
        assert browser.post("/signout", data={"csrf": csrf[1]}).status_code == 303
        assert browser.get("/").status_code == 303

        # Ended on the server: the old cookie, replayed, opens nothing.
        replay = httpx.get(f"{guarded}/reps/ana", cookies={COOKIE: cookie}, headers=BROWSER)
        assert replay.status_code == 303


def test_sign_in_never_redirects_off_the_server(guarded: str) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        answer = httpx.post(f"{guarded}/signin", data={"token": TOKEN, "next": target})
        assert answer.headers["location"] == "/", target


def test_serve_refuses_a_public_host_without_a_token() -> None:
    no_token: dict[str, str | None] = {"SCORESTREAM_WEB_TOKEN": None}  # None: unset
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env=no_token)
    assert result.exit_code == 2, result.output
    assert "--host 0.0.0.0 would show every scorecard" in result.stderr
    assert "SCORESTREAM_WEB_TOKEN" in result.stderr and "--allow-anonymous" in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.20", False), ("example.com", False), ("::", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
