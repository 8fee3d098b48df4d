"""Sign-in with an identity provider, end to end: ``serve`` against a real OpenID provider
the test runs on loopback (tests/oidc_provider.py), authorization code with PKCE.

The directory (as the worker writes it from ``rep_upserted``): ana@x.com is rep ana of
north, mia@x.com manages north; boss@x.com is an admin by settings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from streams.web.access import COOKIE
from tests.oidc_provider import OpenIdProvider, new_key

pytestmark = pytest.mark.redis

BROWSER = {"Accept": "text/html"}


def sign_in(web: str, browser: httpx.Client, next_path: str = "/") -> httpx.Response:
    """The browser's round trip: serve -> provider -> serve's callback; the last answer."""
    start = browser.get(f"{web}/oidc/login", params={"next": next_path})
    assert start.status_code == 303, start.text
    at_provider = browser.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    return browser.get(at_provider.headers["location"])


def test_a_rep_signs_in_and_sees_their_own_page_and_no_one_elses(
    web: str, provider: OpenIdProvider
) -> None:
    with httpx.Client(headers=BROWSER, timeout=10) as browser:
        first = browser.get(f"{web}/reps/ana")
        assert first.status_code == 303 and first.headers["location"].startswith("/signin")
        form = browser.get(f"{web}{first.headers['location']}")
        assert 'href="/oidc/login?next=/reps/ana"' in form.text

        back = sign_in(web, browser, "/reps/ana")
        assert back.status_code == 303 and back.headers["location"] == "/reps/ana"
        cookie = back.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie

        (asked,) = provider.requests  # what serve asked the provider for
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
        assert asked["scope"] == "openid email profile" and asked["nonce"] and asked["state"]
        assert asked["redirect_uri"] == f"{web}/oidc/callback"

        page = browser.get(f"{web}/reps/ana")
        assert page.status_code == 200 and "ana@x.com · rep" in page.text
        refused = browser.get(f"{web}/reps/cyd")
        assert refused.status_code == 403 and "a rep sees" in refused.text
        alerts = browser.get(f"{web}/api/alerts").json()["alerts"]
        assert [a["rep_id"] for a in alerts] == ["ana"]


@pytest.mark.parametrize(
    ("email", "allowed", "refused"),
    [
        ("mia@x.com", ["/reps/bob", "/teams/north"], ["/reps/cyd", "/scorecard"]),
        ("BOSS@x.com", ["/reps/cyd", "/scorecard"], []),
    ],
)
def test_managers_come_from_the_directory_and_admins_from_settings(
    web: str, provider: OpenIdProvider, email: str, allowed: list[str], refused: list[str]
) -> None:
    provider.email = email
    with httpx.Client(headers=BROWSER, timeout=10) as browser:
        assert sign_in(web, browser).status_code == 303
        for path in allowed:
            assert browser.get(web + path).status_code == 200, path
        for path in refused:
            assert browser.get(web + path).status_code == 403, path


def test_a_person_without_a_role_is_told_so(web: str, provider: OpenIdProvider) -> None:
    provider.email = "stranger@x.com"
    with httpx.Client(headers=BROWSER, timeout=10) as browser:
        answer = sign_in(web, browser)
        assert answer.status_code == 403 and "stranger@x.com has no role here" in answer.text
        assert COOKIE not in browser.cookies


def test_a_callback_works_once(web: str, provider: OpenIdProvider) -> None:
    with httpx.Client(headers=BROWSER, timeout=10) as browser:
        start = browser.get(f"{web}/oidc/login")
        callback = browser.get(start.headers["location"]).headers["location"]
        assert browser.get(callback).status_code == 303
    with httpx.Client(headers=BROWSER, timeout=10) as attacker:
        replayed = attacker.get(callback)
        assert replayed.status_code == 400 and COOKIE not in attacker.cookies
        state = parse_qs(urlsplit(callback).query)["state"][0]
        forged = attacker.get(f"{web}/oidc/callback", params={"code": "x", "state": state + "x"})
        assert forged.status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        {"claims": {"aud": "another-app"}},
        {"claims": {"iss": "http://127.0.0.1:1/evil"}},
        {"claims": {"nonce": "not-the-one-sent"}},
        {"claims": {"exp": 1_000_000_000, "iat": 999_999_000}},  # expired (2001)
        {"claims": {"email_verified": False}},
        {"claims": {"email": None}},
        {"signer": new_key()},  # signed with a key the provider does not publish
    ],
)
def test_a_bad_id_token_signs_nobody_in(web: str, provider: OpenIdProvider, bad: dict[str, Any]
                                        ) -> None:  # fmt: skip
    for name, value in bad.items():
        setattr(provider, name, value)
    with httpx.Client(headers=BROWSER, timeout=10) as browser:
        answer = sign_in(web, browser)
        assert answer.status_code == 400, answer.text
        assert "could not be checked" in answer.text and COOKIE not in browser.cookies
        assert browser.get(f"{web}/api/leaderboard").status_code == 401
