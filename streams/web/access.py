"""Who may see what on ``serve``: the gate that finds who is asking, and the refusals.

The gate (ASGI middleware) turns a bearer token or the session cookie into a
``Principal`` (``streams.web.identity``) and keeps it in the request's state; nobody
gets 401 (the API) or the sign-in form (a browser). Routes then ask ``scorers.access``
about what they are about to show (``require``), and a refusal is 403 with what the
role allows: a JSON body under ``/api``, a page elsewhere. Every refusal is logged
with who and what, never a token.

Open without a credential: ``/healthz`` (it says only ok or not), the sign-in pages
and the static files they use.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.outputs import CoachingAlert
from scorers.access import ALLOWS, Principal, RepData, Resource, decide, may_see
from sinks.exceptions import SinkError
from streams.views.reading import RedisScorecardReader
from streams.web.identity import ANONYMOUS, Identities
from streams.web.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

COOKIE: Final = "scorestream_session"
OPEN_PATHS: Final = ("/signin", "/healthz", "/static/", "/oidc/")
"""Answered without a credential (prefixes)."""


def csrf_value(cookie: str) -> str:
    """The sign-out form's CSRF value for a session: only a page of this server knows it,
    since only it can read the HTTP-only cookie it derives from."""
    return hmac.new(cookie.encode(), b"scorestream signout", hashlib.sha256).hexdigest()


class Refused(Exception):
    """A principal asked for what its role does not allow: 403."""

    def __init__(self, principal: Principal, reason: str) -> None:
        super().__init__(reason)
        self.principal = principal


def principal(request: Request) -> Principal:
    """Who the gate found (every route behind it has one)."""
    return request.state.principal  # type: ignore[no-any-return]


def require(request: Request, resource: Resource) -> Principal:
    """The principal, if ``scorers.access`` lets it see ``resource``; else ``Refused``."""
    who = principal(request)
    decision = decide(who, resource)
    if not decision.allowed:
        log.info("access.refused", who=who.name, role=who.role.value, path=request.url.path)
        raise Refused(who, decision.reason)
    return who


async def require_rep(request: Request, reader: RedisScorecardReader, rep_id: str) -> Principal:
    """``require`` for a rep's data; reads the rep's team only when the rule needs it."""
    if may_see(principal(request), RepData(rep_id, None)):
        return principal(request)  # an admin, or the rep itself
    cards = await reader.get_cards(rep_id)
    latest = max(cards, key=lambda c: str(c.get("updated_at") or ""), default=None)
    return require(request, RepData(rep_id, None if latest is None else latest.get("team_id")))


def sees_alert(who: Principal) -> Callable[[CoachingAlert], bool]:
    """Which alerts ``who`` may read (its rep's, or its teams' reps')."""
    return lambda alert: may_see(who, RepData(alert.rep_id, alert.team_id))


def refusal(request: Request, exc: Refused) -> Response:
    """403 with what the role allows: JSON for the API, a page for people."""
    # Imported here: the pages import this module for ``require``.
    from streams.web.pages import error_page

    if request.url.path.startswith("/api") or request.url.path.startswith("/openapi"):
        body = {"detail": str(exc), "role": exc.principal.role.value,
                "allowed": ALLOWS[exc.principal.role]}  # fmt: skip
        return JSONResponse(body, status_code=403)
    return error_page(request, 403, str(exc))


class AccessGate:
    """ASGI middleware: puts the request's ``Principal`` in its state, or answers 401."""

    def __init__(self, app: ASGIApp, identities: Identities, limiter: RateLimiter) -> None:
        self.app = app
        self.identities = identities
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = _client(scope)
        if not self.limiter.allow(client):
            await _too_many(self.limiter.retry_after_s(client))(scope, receive, send)
            return
        try:
            who = await self._principal(headers, scope.setdefault("state", {}))
        except SinkError:
            # Redis is away: nobody can be checked, and nothing could be shown anyway.
            body = {"detail": "the server cannot check credentials now; try again shortly"}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        scope["state"]["principal"] = who
        if who is not None or scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        if _presented(headers):
            self.limiter.failed(client)  # a wrong credential costs more than a request
        await _unauthenticated(scope, headers)(scope, receive, send)

    async def _principal(self, headers: Headers, state: dict[str, Any]) -> Principal | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return await self.identities.from_token(credentials.strip())
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE, "")
        if cookie:
            found = await self.identities.from_session(cookie)
            if found is not None:
                state["csrf"] = csrf_value(cookie)
                return found
        return None if self.identities.guarded else ANONYMOUS


def _presented(headers: Headers) -> bool:
    return "authorization" in headers or COOKIE in cookie_parser(headers.get("cookie", ""))


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "?"


def _too_many(retry_after_s: float) -> Response:
    body = {"detail": "too many requests or failed sign-ins from this address; wait and retry"}
    return JSONResponse(body, status_code=429, headers={"Retry-After": f"{retry_after_s:.0f}"})


def _unauthenticated(scope: Scope, headers: Headers) -> Response:
    path: str = scope["path"]
    if path.startswith("/api") or "text/html" not in headers.get("accept", ""):
        return JSONResponse(
            {"detail": "sign in first: send 'Authorization: Bearer TOKEN'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    query = scope.get("query_string", b"").decode()
    target = path + (f"?{query}" if query else "")
    return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
