"""The JSON API: the same documents as the CLI's ``--json``, and the live event stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from scorers.access import AlertList, Board, TeamData, Versions
from sinks.redis_keys import KPI_METRIC
from streams.views.documents import (
    DEFAULT_LIMIT,
    alerts_document,
    leaderboard_document,
    leaderboard_rows,
    rep_cards,
    rep_document,
    scorecard_document,
    team_document,
)
from streams.views.rankings import RANK_BY
from streams.views.reading import RedisScorecardReader
from streams.web import models
from streams.web.access import require, require_rep, sees_alert
from streams.web.live import LiveFeed, visible_to

router = APIRouter()


def reader(request: Request) -> RedisScorecardReader:
    return request.app.state.reader  # type: ignore[no-any-return]


Reader = Annotated[RedisScorecardReader, Depends(reader)]
Window = Annotated[str, Query(description="Nd (e.g. 7d, 30d), week, month or quarter.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": models.Message}}
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Message, "description": "No credential (or a revoked, expired one)."},
    403: {"model": models.Refusal, "description": "Not for this role: says what it allows."},
}
BAD_QUERY: dict[int | str, dict[str, Any]] = {
    422: {"description": "A bad parameter: the error names it and lists the allowed values."}
}


@router.get(
    "/api/leaderboard",
    tags=["scorecards"],
    responses={200: {"model": models.Leaderboard}, **BAD_QUERY, **REFUSED},
)
async def leaderboard(
    request: Request,
    reader: Reader,
    window: Window = "30d",
    by: Annotated[str, Query(description=f"One of: {', '.join(RANK_BY)}.")] = "overall",
    team: Annotated[str | None, Query(description="Only this team's reps.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Reps ranked by overall, a perspective or a KPI; ties go to the higher uncapped
    overall, then the lower rep id. The body of ``scorestream leaderboard --json``."""
    require(request, Board(kpi=by.startswith(KPI_METRIC)))
    team = team or None
    rows = await leaderboard_rows(reader, window, by, team, limit)
    return leaderboard_document(window, by, team, rows, await reader.definition_in_force())


@router.get(
    "/api/reps/{rep_id:path}",
    tags=["scorecards"],
    responses={200: {"model": models.Rep}, **NOT_FOUND, **BAD_QUERY, **REFUSED},
)
async def rep(
    request: Request,
    reader: Reader,
    rep_id: str,
    window: Annotated[str | None, Query(description="Only this window.")] = None,
) -> dict[str, Any]:
    """A rep's scorecards, every KPI explained. The body of ``scorestream show REP --json``.

    A rep id may hold ``/`` (send it as ``%2F`` or as is)."""
    await require_rep(request, reader, rep_id)
    return rep_document(rep_id, await rep_cards(reader, rep_id, window))


@router.get(
    "/api/teams/{team_id:path}",
    tags=["scorecards"],
    responses={200: {"model": models.Team}, **NOT_FOUND, **BAD_QUERY, **REFUSED},
)
async def team(
    request: Request, reader: Reader, team_id: str, window: Window = "30d"
) -> dict[str, Any]:
    """A team's scorecards (sums of its members' counts) and its members ranked in ``window``."""
    require(request, TeamData(team_id))
    return await team_document(reader, team_id, window)


@router.get(
    "/api/scorecard",
    tags=["scorecards"],
    responses={200: {"model": models.DefinitionInForce}, **NOT_FOUND, **REFUSED},
)
async def scorecard(request: Request, reader: Reader) -> dict[str, Any]:
    """The scorecard definition version in force: who published it, when and why, what it
    changed from the version before, the definition, and every version, newest first."""
    require(request, Versions())
    return await scorecard_document(reader)


@router.get("/api/alerts", tags=["alerts"], responses={200: {"model": models.Alerts}, **REFUSED})
async def alerts(
    request: Request,
    reader: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    rep: Annotated[str | None, Query(description="Only this rep's alerts.")] = None,
) -> dict[str, Any]:
    """The latest coaching alerts the caller may read (a rep its own, a manager its teams'),
    newest first."""
    who = require(request, AlertList())
    if rep:
        await require_rep(request, reader, rep)
    return await alerts_document(reader, limit, rep or None, sees_alert(who))


@router.get(
    "/api/stream",
    tags=["live"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **REFUSED},
)
async def stream(request: Request) -> StreamingResponse:
    """Server-sent events from now on: ``scorecard`` (a rep's card was written:
    ``{"rep_id", "team_id", "window", "as_of", "overall", "delta"}``) and ``alert`` (a
    coaching alert, as on ``scorecards.alerts``), each only if the caller's role may see
    it (a board's scores: everyone; an alert: as ``/api/alerts``). Comments keep an idle
    stream open."""
    who = require(request, Board(kpi=False))
    feed: LiveFeed = request.app.state.feed
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    events = feed.events(visible_to(who))
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.get("/healthz", tags=["operations"], responses={200: {"model": models.Health}})
async def healthz(reader: Reader) -> dict[str, str]:
    """200 when Redis answers (503 when it does not, naming nothing). Needs no token."""
    await reader.ping()
    return {"status": "ok"}
