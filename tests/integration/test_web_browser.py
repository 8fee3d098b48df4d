"""The live leaderboard in headless Chromium over the real worker, Kafka and Redis.

Debian's ``chromium`` (installed by scripts/chromium.sh, never downloaded) driven by
Playwright. A simulated month goes through Kafka to the worker; the page lists the reps
in the API's and the CLI's order; new CRM events lift the last rep and the page
reorders without a reload; a rep's page shows the KPIs of ``show --json``; a scorecard
version published while the page is open is named on it without a reload, and the scorecard
view says what it changed. The screenshots in the README and docs/web.md come from here
(docs/screenshots/).
"""

from __future__ import annotations

import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from schemas.scorecard_definition import load_definition
from schemas.settings import Settings
from sinks.redis_keys import RedisKeys
from streams.runtime.stopping import EXIT_OVERDUE
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator
from streams.views.formatting import number
from tests.http_probe import answers
from tests.integration.worker_harness import (
    SCORESTREAM,
    System,
    produce_lines,
    wait_until,
)
from tests.paths import REPO_ROOT
from tests.redis_server import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
"""Without the background-networking flags Chromium calls home, which a closed network refuses."""
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
END = datetime(2026, 3, 7, tzinfo=UTC)
"""The history ends on Saturday 2026-03-07: the event clock's day is Friday the 6th."""


@pytest.fixture(name="system")
def fixture_system(settings: Settings, tmp_path: Path, kafka_bootstrap: str) -> System:
    return System.fresh(settings, tmp_path)


@pytest.fixture(name="browser")
def fixture_browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/chromium.sh install"
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, temporary user-data-dir.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="web")
def fixture_web(system: System) -> Iterator[str]:
    """The real `scorestream serve` on the system's prefix."""
    port = free_port()
    log = (system.log_dir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [SCORESTREAM, "serve", "--port", str(port)], env=system.env(), stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base}/healthz"), 20, "scorestream serve to answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)  # its stop deadline is 10 s
        log.close()
        if proc.returncode == EXIT_OVERDUE:  # not this test's subject, but worth a look
            overdue = (system.log_dir / "serve.log").read_text().splitlines()[-1]
            warnings.warn(f"scorestream serve's stop hung: {overdue}", stacklevel=1)


def cli_json(system: System, *args: str) -> Any:
    out = subprocess.run(
        [SCORESTREAM, *args, "--json"], env=system.env(), check=True, capture_output=True
    )
    return orjson.loads(out.stdout)


def wait_in_page(page: Page, predicate: str, arg: Any = None, timeout_s: float = 10) -> None:
    """Until ``predicate(arg)`` holds in the page. Not ``wait_for_function``: Playwright
    compiles its predicate inside the page, which the pages' Content-Security-Policy
    (``script-src 'self'``, no eval) refuses, as it should; ``evaluate`` is not subject to it."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate, arg):
        assert time.monotonic() < deadline, f"not true after {timeout_s:g}s: {predicate}"
        page.wait_for_timeout(100)


def page_order(page: Page) -> list[str]:
    order: list[str] = page.eval_on_selector_all(
        "[data-board] tbody tr[data-rep]", "rows => rows.map(row => row.dataset.rep)"
    )
    return order


def boost(rep_id: str, day: date) -> list[bytes]:
    """A great day for ``rep_id``: big deals won, meetings booked, happy customers."""
    at = f"{day.isoformat()}T12:00:00+00:00"
    opened = f"{day.isoformat()}T08:00:00+00:00"

    def event(event_type: str, **fields: Any) -> bytes:
        body = {"event_id": f"boost-{uuid.uuid4()}", "event_type": event_type,
                "occurred_at": at, "rep_id": rep_id, **fields}  # fmt: skip
        return orjson.dumps(body)

    lines = [
        event("deal_won", deal_id=f"big-{n}", amount=90_000, opened_at=opened) for n in range(6)
    ]
    lines += [event("call_logged", call_id=f"c-{n}", duration_seconds=600,
                    outcome="meeting_booked") for n in range(80)]  # fmt: skip
    lines += [event("nps_response", account_id=f"a-{n}", score=10) for n in range(12)]
    lines += [event("lead_converted", lead_id=f"l-{n}") for n in range(20)]
    lines += [event("account_renewed", account_id=f"r-{n}") for n in range(6)]
    lines += [event("course_completed", course_id=f"k-{n}", hours=4.0) for n in range(4)]
    return lines


def test_the_page_ranks_like_the_api_and_reorders_live(
    system: System, web: str, browser: Browser, kafka_bootstrap: str
) -> None:
    with system.worker():
        _play_month(system, kafka_bootstrap)
        api = f"{web}/api/leaderboard"
        wait_until(lambda: len(httpx.get(api).json()["rows"]) == 20, 60, "20 reps on the board")
        board = _settled(api)
        assert board == cli_json(system, "leaderboard"), "the API and the CLI disagree"

        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{web}/")
        before = page_order(page)
        assert before == [row["rep_id"] for row in board["rows"]]
        page.wait_for_selector("#live.on", timeout=10_000)  # the event stream is open
        page.evaluate("""() => {
            window.notReloaded = true;
            window.rose = new Set();
            new MutationObserver(() => document.querySelectorAll("tr.rose")
                .forEach(row => window.rose.add(row.dataset.rep)))
              .observe(document.body, {subtree: true, childList: true, attributes: true});
        }""")

        last = before[-1]
        as_of = date.fromisoformat(cli_json(system, "show", last)["scorecards"][0]["as_of"])
        produce_lines(kafka_bootstrap, boost(last, as_of))

        deadline = time.monotonic() + 30
        while page_order(page) == before or page_order(page).index(last) > 2:
            assert time.monotonic() < deadline, f"the page did not reorder: {page_order(page)}"
            page.wait_for_timeout(200)
        after = _settled(api)
        wait_in_page(
            page,
            "order => JSON.stringify([...document.querySelectorAll("
            "'[data-board] tbody tr[data-rep]')].map(r => r.dataset.rep)) === order",
            arg=orjson.dumps([row["rep_id"] for row in after["rows"]]).decode(),
            timeout_s=10,
        )
        assert page.evaluate("window.notReloaded") is True, "the page reloaded"
        assert page.evaluate(f"window.rose.has({orjson.dumps(last).decode()})"), "no visible move"
        assert after == cli_json(system, "leaderboard")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "leaderboard.png", full_page=True)

        _check_rep_page(browser, web, system, last)
        _tv_screenshot(browser, web)
        _check_a_new_version(page, browser, web, system)


def _play_month(system: System, kafka_bootstrap: str) -> None:
    """A simulated month, a day at a time, each scored before the next: the event clock moves
    day by day, as the wall clock would, so every rep gets a daily history."""
    days: dict[date, list[bytes]] = {}
    simulator = Simulator(SimulationConfig(seed=1))
    org = simulator.reps
    for event in simulator.backfill(30, END):
        days.setdefault(event.occurred_at.astimezone(UTC).date(), []).append(
            event.model_dump_json().encode()
        )
    produced = 0
    client = system.redis()
    keys = RedisKeys(system.prefix)
    for day in sorted(days):
        produced += produce_lines(kafka_bootstrap, days[day])

        def scored(n: int = produced, iso: str = day.isoformat()) -> bool:
            """Read, and every rep's card moved to the day (quiet reps a timer tick later)."""
            cards = client.mget([keys.rep_card(rep.rep_id, "30d") for rep in org])
            return system.events_in() >= n and all(
                orjson.loads(c)["as_of"] == iso for c in cards if c is not None
            )

        wait_until(scored, 60, f"the worker to score {day}", system.worker_logs, poll_s=0.1)


def _settled(api: str) -> Any:
    """The board once two reads a second apart agree (the worker has caught up)."""
    previous: list[Any] = [None]

    def same() -> bool:
        board = httpx.get(api).json()
        stable: bool = board == previous[0]
        previous[0] = board
        return stable

    wait_until(same, 60, "the leaderboard to settle")
    return previous[0]


def _check_rep_page(browser: Browser, web: str, system: System, rep_id: str) -> None:
    """The KPI table says what `show --json` says, KPI by KPI."""
    (card,) = cli_json(system, "show", rep_id, "--window", "30d")["scorecards"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{web}/reps/{rep_id}?window=30d")
    table: dict[str, dict[str, str]] = page.eval_on_selector_all(
        "[data-kpis] tbody tr",
        """rows => Object.fromEntries(rows.map(row => [row.dataset.kpi, Object.fromEntries(
            [...row.querySelectorAll('[data-field]')]
              .map(cell => [cell.dataset.field, cell.innerText.trim()])
        )]))""",
    )
    assert list(table) == list(card["kpis"])
    for name, kpi in card["kpis"].items():
        attainment = "-" if kpi["attainment"] is None else f"{kpi['attainment']:.0%}"
        assert table[name] == {
            "value": number(kpi["value"]),
            "target": number(kpi["target"]),
            "attainment": attainment,
            "samples": str(kpi["samples"]),
            "contribution": f"{kpi['contribution']:.1f}",
        }, name
    assert page.inner_text(".card.overall .big") == f"{card['overall']:.1f}"
    assert page.locator("svg.trend circle.dot").count() >= 20  # a month of daily history
    page.screenshot(path=SCREENSHOTS / "rep.png", full_page=True)


def _check_a_new_version(page: Page, browser: Browser, web: str, system: System) -> None:
    """A new weight set published: the open leaderboard names version 2 without a reload,
    and the scorecard view shows its note and what it changed."""
    assert page.inner_text("a.version") == "scorecard v1"
    data = load_definition().model_dump(mode="json")
    data["perspectives"]["customer"]["weight"] = 0.4
    new = system.log_dir / "customers-first.yaml"
    new.write_text(yaml.safe_dump(data))
    subprocess.run(
        [SCORESTREAM, "scorecard", "publish", str(new), "--note", "Customers first this quarter",
         "--by", "maria"], env=system.env(), check=True, capture_output=True,
    )  # fmt: skip
    wait_in_page(
        page, "() => document.querySelector('a.version').innerText === 'scorecard v2'", timeout_s=30
    )
    assert page.evaluate("window.notReloaded") is True, "the page reloaded"
    view = browser.new_page(viewport={"width": 1400, "height": 1000})
    view.goto(f"{web}/scorecard")
    assert view.inner_text("[data-version]") == "v2"
    assert view.inner_text("[data-note]") == "Customers first this quarter"
    assert view.eval_on_selector_all(
        "[data-changes] li", "items => items.map(i => i.innerText)"
    ) == ["Weight perspectives.customer.weight: 0.25 -> 0.4"]  # the chip is capitalised
    view.screenshot(path=SCREENSHOTS / "scorecard.png", full_page=True)


def _tv_screenshot(browser: Browser, web: str) -> None:
    """TV mode: no controls; it moves on to the next window by itself, without a reload."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{web}/?tv=1&limit=12&every=3")
    assert page.locator("form.controls").count() == 0
    page.screenshot(path=SCREENSHOTS / "tv.png")
    page.evaluate("window.notReloaded = true")
    wait_in_page(page, "() => document.body.dataset.window === '90d'", timeout_s=10)
    assert page.inner_text(".heading .window") == "90d"
    assert page.evaluate("window.notReloaded") is True
