"""The web token: a bearer header for programs, a sign-in form and a cookie for browsers.

Without ``SCORESTREAM_WEB_TOKEN`` everything is open, and ``scorestream serve`` only
binds to loopback unless told otherwise. With it, every page and API call needs the
token, except ``/healthz`` (a probe learns only that Redis answers), the sign-in form
and the static files it uses. The cookie holds an HMAC of the token, not the token:
it is HTTP-only (no script reads it), SameSite=Lax, Secure on https, and changing the
token signs every browser out.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from streams.web.rendering import templates

COOKIE: Final = "scorestream_session"
COOKIE_MAX_AGE_S: Final = 30 * 86_400
OPEN_PATHS: Final = ("/signin", "/healthz", "/static/")
"""Answered without the token (prefixes)."""

router = APIRouter(include_in_schema=False)


def session_value(token: str) -> str:
    """What the cookie holds for ``token``."""
    return hmac.new(token.encode(), b"scorestream web session", hashlib.sha256).hexdigest()


class TokenGate:
    """ASGI middleware: lets a request through when the token is not set, the path is
    open, or the request carries the token (bearer) or the session cookie."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._token = token
        self._session = None if token is None else session_value(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._token is None or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        response: Response
        if path.startswith("/api") or "text/html" not in headers.get("accept", ""):
            response = JSONResponse(
                {"detail": "this server needs its token: send 'Authorization: Bearer TOKEN'"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            query = scope.get("query_string", b"").decode()
            target = path + (f"?{query}" if query else "")
            response = RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        assert self._token is not None and self._session is not None
        if scope["path"].startswith(OPEN_PATHS):
            return True
        headers = Headers(scope=scope)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(credentials.strip(), self._token):
            return True
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE, "")
        return _same(cookie, self._session)


@router.get("/signin")
async def signin_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(
        request, "signin.html", {"next": _local(next), "error": None, "title": "Sign in"}
    )


@router.post("/signin")
async def signin(request: Request) -> Response:
    # The form is url-encoded: parsed here rather than with a multipart library.
    form = parse_qs((await request.body()).decode(errors="replace"))
    token, target = form.get("token", [""])[0], _local(form.get("next", ["/"])[0])
    expected: str | None = request.app.state.token
    if expected is None:
        return RedirectResponse(target, status_code=303)
    if not _same(token, expected):
        context = {"next": target, "error": "That is not this server's token.", "title": "Sign in"}
        return templates.TemplateResponse(request, "signin.html", context, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session_value(expected),
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _same(given: str, expected: str) -> bool:
    # Constant time: the comparison must not tell an attacker how much of a guess is right.
    return hmac.compare_digest(given.encode(), expected.encode())


def _local(target: str) -> str:
    """``target`` if it is a path on this server, else ``/``: no open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
