"""The HTML pages: the leaderboard (and its TV mode), a rep, a team, the latest alerts, the
scorecard version in force.

Rendered on the server from the same documents as the API; ``static/scorestream.js``
keeps them live by fetching the page again when the event stream says it changed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from schemas.scorecard_definition import DefinitionError, load_definition
from scorers.access import AlertList, Board, TeamData, Versions
from sinks.redis_keys import KPI_METRIC, OVERALL
from streams.views.documents import (
    DEFAULT_LIMIT,
    NotFound,
    check_window,
    leaderboard_rows,
    rep_cards,
    scorecard_document,
    team_document,
)
from streams.views.rankings import RANK_BY, LeaderboardRow
from streams.views.reading import RedisScorecardReader
from streams.web.access import require, require_rep, sees_alert
from streams.web.api import Reader
from streams.web.charts import trend
from streams.web.rendering import templates

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

TV_EVERY_S = 20
"""Seconds each window (or team) stays on a TV before the next one."""
ALERTS_ON_PAGE = 100
REP_ALERTS = 10


@router.get("/")
async def leaderboard_page(
    request: Request,
    reader: Reader,
    window: str = "30d",
    by: str = OVERALL,
    team: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = DEFAULT_LIMIT,
    tv: bool = False,
    cycle: Literal["windows", "teams"] = "windows",
    every: Annotated[int, Query(ge=3, le=3600)] = TV_EVERY_S,
) -> Response:
    require(request, Board(kpi=by.startswith(KPI_METRIC)))
    team = team or None
    rows = await leaderboard_rows(reader, window, by, team, limit)
    windows = await reader.windows()
    context = {
        "title": f"Leaderboard {window}" + (f" · {team}" if team else ""),
        "rows": rows,
        "window": window,
        "by": by,
        "team": team,
        "limit": limit,
        "tv": tv,
        "cycle": cycle,
        "every": every,
        "windows": windows if window in windows else [*windows, window],
        "teams": await reader.teams(),
        "rank_by": RANK_BY,
        "as_of": await _as_of(reader, rows, window),
        "definition_version": await reader.definition_in_force(),
    }
    return templates.TemplateResponse(request, "leaderboard.html", context)


@router.get("/reps/{rep_id:path}")
async def rep_page(request: Request, reader: Reader, rep_id: str, window: str = "30d") -> Response:
    await require_rep(request, reader, rep_id)
    check_window(window)
    cards = await rep_cards(reader, rep_id)
    card = next((c for c in cards if c["window"] == window), None)
    if card is None:
        has = ", ".join(c["window"] for c in cards)
        raise NotFound(f"no {window} scorecard for rep {rep_id!r}; it has {has}")
    history = await reader.history(rep_id, window)
    alerts = await reader.latest_alerts(REP_ALERTS, rep_id=rep_id)
    context = {
        "title": rep_id,
        "rep_id": rep_id,
        "card": card,
        "windows": [c["window"] for c in cards],
        "window": window,
        "kpi_perspectives": _kpi_perspectives(),
        "trend": trend(history, card["as_of"]),
        "alerts": alerts,
        "deliveries": await reader.alert_deliveries([a.alert_id for a in alerts]),
    }
    return templates.TemplateResponse(request, "rep.html", context)


@router.get("/teams/{team_id:path}")
async def team_page(
    request: Request, reader: Reader, team_id: str, window: str = "30d"
) -> Response:
    require(request, TeamData(team_id))
    document = await team_document(reader, team_id, window)
    card = next((c for c in document["scorecards"] if c["window"] == window), None)
    rows = await leaderboard_rows(reader, window, OVERALL, team_id, None)
    context = {
        "title": team_id,
        "team_id": team_id,
        "card": card,
        "rows": rows,
        "window": window,
        "by": OVERALL,
        "team": team_id,
        "windows": [c["window"] for c in document["scorecards"]] or [window],
        "as_of": await _as_of(reader, rows, window),
    }
    return templates.TemplateResponse(request, "team.html", context)


@router.get("/alerts")
async def alerts_page(request: Request, reader: Reader) -> Response:
    who = require(request, AlertList())
    alerts = await reader.latest_alerts(ALERTS_ON_PAGE, keep=sees_alert(who))
    deliveries = await reader.alert_deliveries([a.alert_id for a in alerts])
    context = {"title": "Alerts", "alerts": alerts, "deliveries": deliveries}
    return templates.TemplateResponse(request, "alerts.html", context)


@router.get("/scorecard")
async def scorecard_page(request: Request, reader: Reader) -> Response:
    """The scorecard version in force: its note, what it changed, its weights; every version."""
    require(request, Versions())
    doc = await scorecard_document(reader)
    context = {"title": f"Scorecard v{doc['version']}", "doc": doc}
    return templates.TemplateResponse(request, "scorecard.html", context)


def error_page(request: Request, status: int, message: str) -> Response:
    context = {"title": f"Error {status}", "status": status, "message": message}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


async def _as_of(
    reader: RedisScorecardReader, rows: list[LeaderboardRow], window: str
) -> str | None:
    """The as-of day of the board (its top rep's card)."""
    if not rows:
        return None
    cards = await reader.get_cards(rows[0].rep_id, [window])
    return cards[0]["as_of"] if cards else None


def _kpi_perspectives() -> dict[str, str]:
    """Each KPI's perspective in the shipped scorecard (the page groups the KPI table by it)."""
    try:
        definition = load_definition(None)
    except DefinitionError:
        return {}
    return {name.value: kpi.perspective.value for name, kpi in definition.kpis.items()}
