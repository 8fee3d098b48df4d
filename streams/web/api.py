"""The JSON API: the same documents as the CLI's ``--json``, and the live event stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from streams.documents import (
    DEFAULT_LIMIT,
    alerts_document,
    leaderboard_document,
    leaderboard_rows,
    rep_cards,
    rep_document,
    scorecard_document,
    team_document,
)
from streams.rankings import RANK_BY
from streams.reading import RedisScorecardReader
from streams.web import models
from streams.web.live import LiveFeed

router = APIRouter()


def reader(request: Request) -> RedisScorecardReader:
    return request.app.state.reader  # type: ignore[no-any-return]


Reader = Annotated[RedisScorecardReader, Depends(reader)]
Window = Annotated[str, Query(description="Nd (e.g. 7d, 30d), week, month or quarter.")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": models.Message}}
BAD_QUERY: dict[int | str, dict[str, Any]] = {
    422: {"description": "A bad parameter: the error names it and lists the allowed values."}
}


@router.get(
    "/api/leaderboard",
    tags=["scorecards"],
    responses={200: {"model": models.Leaderboard}, **BAD_QUERY},
)
async def leaderboard(
    reader: Reader,
    window: Window = "30d",
    by: Annotated[str, Query(description=f"One of: {', '.join(RANK_BY)}.")] = "overall",
    team: Annotated[str | None, Query(description="Only this team's reps.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Reps ranked by overall, a perspective or a KPI; ties go to the higher uncapped
    overall, then the lower rep id. The body of ``scorestream leaderboard --json``."""
    team = team or None
    rows = await leaderboard_rows(reader, window, by, team, limit)
    return leaderboard_document(window, by, team, rows, await reader.definition_in_force())


@router.get(
    "/api/reps/{rep_id}",
    tags=["scorecards"],
    responses={200: {"model": models.Rep}, **NOT_FOUND, **BAD_QUERY},
)
async def rep(
    reader: Reader,
    rep_id: str,
    window: Annotated[str | None, Query(description="Only this window.")] = None,
) -> dict[str, Any]:
    """A rep's scorecards, every KPI explained. The body of ``scorestream show REP --json``."""
    return rep_document(rep_id, await rep_cards(reader, rep_id, window))


@router.get(
    "/api/teams/{team_id}",
    tags=["scorecards"],
    responses={200: {"model": models.Team}, **NOT_FOUND, **BAD_QUERY},
)
async def team(reader: Reader, team_id: str, window: Window = "30d") -> dict[str, Any]:
    """A team's scorecards (sums of its members' counts) and its members ranked in ``window``."""
    return await team_document(reader, team_id, window)


@router.get(
    "/api/scorecard",
    tags=["scorecards"],
    responses={200: {"model": models.DefinitionInForce}, **NOT_FOUND},
)
async def scorecard(reader: Reader) -> dict[str, Any]:
    """The scorecard definition version in force: who published it, when and why, what it
    changed from the version before, the definition, and every version, newest first."""
    return await scorecard_document(reader)


@router.get("/api/alerts", tags=["alerts"], responses={200: {"model": models.Alerts}})
async def alerts(
    reader: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    rep: Annotated[str | None, Query(description="Only this rep's alerts.")] = None,
) -> dict[str, Any]:
    """The latest coaching alerts, newest first."""
    return await alerts_document(reader, limit, rep or None)


@router.get(
    "/api/stream",
    tags=["live"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request) -> StreamingResponse:
    """Server-sent events from now on: ``scorecard`` (a rep's card was written:
    ``{"rep_id", "team_id", "window", "as_of", "overall", "delta"}``) and ``alert`` (a
    coaching alert, as on ``scorecards.alerts``). Comments keep an idle stream open."""
    feed: LiveFeed = request.app.state.feed
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(feed.events(), media_type="text/event-stream", headers=headers)


@router.get("/healthz", tags=["operations"], responses={200: {"model": models.Health}})
async def healthz(reader: Reader) -> dict[str, str]:
    """200 when Redis answers (503 when it does not). Needs no token."""
    await reader.ping()
    return {"status": "ok"}
