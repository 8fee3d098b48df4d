"""The server-rendered pages over the real Redis: what a browser receives before any script."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.redis


def board_order(html: str) -> list[str]:
    return re.findall(r'<tr data-rep="([^"]+)"', html)


def test_leaderboard_page_lists_the_api_order_with_bars_and_moves(base: str) -> None:
    page = httpx.get(f"{base}/").text
    api = httpx.get(f"{base}/api/leaderboard").json()
    assert board_order(page) == [r["rep_id"] for r in api["rows"]] == ["bob", "ana", "cyd", "dan"]
    assert 'class="move up" title="up 1 since yesterday"' in page
    assert 'class="move down" title="down 1 since yesterday"' in page
    assert page.count('class="bar bar-financial"') == 4
    assert "<option selected>30d</option>" in page and "TV mode" in page
    assert 'src="/static/scorestream.js"' in page and "http" not in re.sub(
        r'href="[^"]*"', "", page
    )


def test_query_string_keeps_window_rank_and_team(base: str) -> None:
    page = httpx.get(f"{base}/", params={"window": "7d"}).text
    assert board_order(page) == ["dan"] and 'data-window="7d"' in page
    north = httpx.get(f"{base}/", params={"team": "north", "by": "customer"}).text
    assert board_order(north) == ["bob", "ana"]
    assert '<option value="customer" selected>' in north


def test_tv_mode_has_no_controls_and_knows_what_to_cycle(base: str) -> None:
    page = httpx.get(f"{base}/", params={"tv": "1", "cycle": "teams", "every": "5"}).text
    assert '<body class="tv"' in page and 'class="controls"' not in page
    assert 'data-cycle="teams" data-every="5"' in page
    assert 'data-windows="7d,30d"' in page and 'data-teams="north,south"' in page


def test_rep_page_explains_every_kpi_and_lists_its_alerts(base: str) -> None:
    page = httpx.get(f"{base}/reps/ana").text
    assert '<td class="num" data-field="value">10,000</td>' in page
    assert '<td class="num" data-field="target">20,000</td>' in page
    assert "50%" in page and "No calls for 3 days." in page and "Customers are unhappy" not in page
    assert "<polyline" in page  # two days of history: a trend line


def test_team_and_alerts_pages(base: str) -> None:
    team = httpx.get(f"{base}/teams/south").text
    assert board_order(team) == ["cyd", "dan"] and "66.0" in team
    alerts = httpx.get(f"{base}/alerts").text
    assert alerts.index("Customers are unhappy.") < alerts.index("No calls for 3 days.")


def test_errors_are_pages_too(base: str) -> None:
    missing = httpx.get(f"{base}/reps/nobody")
    assert missing.status_code == 404 and "no scorecards for rep &#39;nobody&#39;" in missing.text
    bad = httpx.get(f"{base}/", params={"by": "revenue"})
    assert bad.status_code == 422 and "by &#39;revenue&#39;: use one of overall" in bad.text


def test_the_board_ranks_by_the_pipeline_kpis_too(base: str) -> None:
    """The ranking menu offers the leading indicators (from the KPI catalogue), labelled."""
    page = httpx.get(f"{base}/").text
    for kpi, label in (
        ("open_pipeline", "open pipeline"),
        ("pipeline_coverage", "pipeline coverage"),
        ("forecast_attainment", "forecast attainment"),
    ):
        assert f'<option value="kpi:{kpi}" >KPI: {label}</option>' in page
    by_pipeline = httpx.get(f"{base}/", params={"by": "kpi:open_pipeline"})
    assert by_pipeline.status_code == 200 and "ranked by <strong>open pipeline</strong>" in (
        by_pipeline.text
    )


def test_the_pages_name_the_version_and_the_scorecard_view_says_what_changed(base: str) -> None:
    """The leaderboard and a rep's page link the version in force; /scorecard shows its
    note, what changed from version 1, its weights and every version."""
    for path in ("/", "/reps/ana", "/teams/north"):
        assert '<a class="version" href="/scorecard"' in httpx.get(f"{base}{path}").text
        assert "scorecard v2</a>" in httpx.get(f"{base}{path}").text
    page = httpx.get(f"{base}/scorecard").text
    assert '<span class="window" data-version>v2</span>' in page
    assert "<p data-note>Customers first this quarter</p>" in page
    assert "What changed from version 1" in page
    changes = re.findall(r'<li class="change-(\w+)">.*?</span> (.*?)</li>', page)
    assert changes == [
        ("weight", "perspectives.customer.weight: 0.25 -&gt; 0.4"),
        ("target", "kpis.nps.target: 50 -&gt; 40"),
    ]
    assert re.findall(r'<tr data-version="(\d+)"', page) == ["2", "1"]
    assert '<tr data-kpi="nps">' in page and 'href="/scorecard" aria-current="page"' in page
