"""The ASGI app: one Redis reader and one live feed per process, the routes, the errors.

Any number of these can run beside the workers: they only read Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from schemas.access import Role
from schemas.settings import Settings, masked_url
from sinks.exceptions import RedisStoreError, RedisUnavailableError
from streams.runtime import connections
from streams.views import reading
from streams.views.documents import BadParameter, NotFound
from streams.web import access, api, oidc, pages, signin
from streams.web.guards import BodyLimit, SecurityHeaders
from streams.web.identity import Identities
from streams.web.live import LiveFeed
from streams.web.ratelimit import RateLimiter

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings) -> FastAPI:
    """The app for ``settings``: Redis at ``redis_url``; who sees what by role once a web
    token or sign-in is configured (``streams.web.access``)."""
    # Credentials are checked on a client of their own: a page's slow read never delays them.
    access_client = connections.redis_client(settings, **reading.client_options(5))
    identities = Identities(settings, access_client)
    limiter = RateLimiter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reader = connections.scorecard_reader(settings)
        feed = LiveFeed(reader)
        app.state.reader, app.state.feed = reader, feed
        feed.start()
        try:
            yield
        finally:
            await feed.stop()
            await reader.aclose()
            await access_client.aclose()

    app = FastAPIOffline(
        title="Scorestream",
        summary="Live balanced scorecards of a sales org: leaderboards, reps, teams, alerts.",
        version="1",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.redis_url = masked_url(settings.redis_url)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(signin.router)
    app.state.identities, app.state.limiter = identities, limiter
    app.state.session_hours = settings.web_session_hours
    app.include_router(oidc.router)
    app.state.oidc = None if settings.oidc_issuer is None else oidc.OidcClient(settings)
    # Outermost last: headers on every answer, the body cap before the gate reads a form.
    app.add_middleware(access.AccessGate, identities=identities, limiter=limiter)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    _errors(app)
    return app


def _errors(app: FastAPI) -> None:
    """Our errors as HTTP answers: JSON under /api, a page elsewhere."""

    def answer(request: Request, status: int, detail: Any) -> Response:
        if request.url.path.startswith("/api") or request.url.path == "/healthz":
            return JSONResponse({"detail": detail}, status_code=status)
        message = detail if isinstance(detail, str) else detail[0]["msg"]
        return pages.error_page(request, status, message)

    @app.exception_handler(access.Refused)
    async def refused(request: Request, exc: access.Refused) -> Response:
        return access.refusal(request, exc)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter) -> Response:
        detail = [
            {
                "type": "value_error",
                "loc": ["query", exc.name],
                "msg": str(exc),
                "input": exc.value,
                "ctx": {"allowed": exc.allowed},
            }
        ]
        return answer(request, 422, detail)

    # Where the data lives (Redis's address, the key prefix) is for admins: anyone else
    # learns only what is missing or that the server cannot answer.
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return answer(request, 404, str(exc) if _operator(request) else exc.message)

    @app.exception_handler(RedisUnavailableError)
    async def redis_down(request: Request, exc: RedisUnavailableError) -> Response:
        where = f"at {request.app.state.redis_url} " if _operator(request) else ""
        return answer(request, 503, f"Redis {where}does not answer")

    @app.exception_handler(RedisStoreError)
    async def redis_refused(request: Request, exc: RedisStoreError) -> Response:
        return answer(request, 502, str(exc))


def _operator(request: Request) -> bool:
    """Whether the caller is an admin (an open server's anonymous callers included)."""
    who = getattr(request.state, "principal", None)
    return who is not None and who.role is Role.ADMIN
