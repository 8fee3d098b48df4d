"""Sign-in in a real browser (Debian's chromium, as tests/integration/test_web_browser.py):
through the OpenID provider the test runs, a rep sees their own page (live, its script
allowed by the Content-Security-Policy), is refused another's, and signs out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.integration.test_web_browser import CHROMIUM, CHROMIUM_ARGS
from tests.oidc_provider import OpenIdProvider

pytestmark = pytest.mark.redis


@pytest.fixture(name="browser")
def fixture_browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/chromium.sh install"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_a_rep_signs_in_sees_their_page_live_and_no_one_elses(
    web: str, provider: OpenIdProvider, browser: Browser
) -> None:
    page = browser.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)

    page.goto(f"{web}/reps/ana")
    assert page.url.startswith(f"{web}/signin")
    page.click("text=Sign in with your company account")  # to the provider and back
    page.wait_for_url(f"{web}/reps/ana")
    assert "ana@x.com · rep" in page.inner_text("header")
    page.wait_for_selector("#live.on", timeout=10_000)  # the script ran and the stream is open

    refused = page.goto(f"{web}/reps/cyd")
    assert refused is not None and refused.status == 403
    assert "a rep sees" in page.inner_text("main")

    page.goto(f"{web}/")
    page.click("form.signout button")
    page.wait_for_url(f"{web}/signin")
    page.goto(f"{web}/reps/ana")
    assert page.url.startswith(f"{web}/signin"), "signed out, yet the page opened"
    assert blocked == [], blocked
