"""Signing a browser in and out: a token in a form (the web token or a granted one), or
the company's identity provider (``streams.web.oidc``), and then a server-side session.

The cookie holds 256 random bits; Redis holds their hash and how the browser signed in
(``sinks.redis_sessions``), so a session expires on the server, sign-out ends it on every
``serve``, and revoking a grant ends the sessions made with it. The cookie is HTTP-only,
SameSite=Lax and Secure on https (also behind a TLS proxy that says so, with
``serve --proxy-headers``). Sign-out needs the page's CSRF value: another site cannot
sign anyone out.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qs, urlsplit

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import cookie_parser

from schemas.access import Session
from scorers.access import Principal
from streams.web.access import COOKIE, csrf_value
from streams.web.identity import Identities
from streams.web.rendering import templates

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False)

COOKIE_BYTES: Final = 32


@router.get("/signin")
async def signin_form(request: Request, next: str = "/") -> Response:
    return _form(request, local(next), None)


@router.post("/signin")
async def signin(request: Request) -> Response:
    # The form is url-encoded: parsed here rather than with a multipart library. The body's
    # size is capped before this reads it (``streams.web.limits``).
    form = parse_qs((await request.body()).decode(errors="replace"))
    token, target = form.get("token", [""])[0], local(form.get("next", ["/"])[0])
    identities: Identities = request.app.state.identities
    who = await identities.from_token(token) if token else None
    if who is None:
        request.app.state.limiter.failed(request.client.host if request.client else "?")
        log.info("access.signin_refused", via="token")
        return _form(request, target, "That token does not open this server.", status=401)
    if who.grant_id is not None:
        session = _session(request, grant_id=who.grant_id)
    else:  # the web token
        session = _session(request, web_token_mac=identities.web_token_mac())
    return await start_session(request, session, who, target)


async def start_session(
    request: Request, session: Session, who: Principal, target: str
) -> Response:
    """A new session for ``who``: stored, and its cookie set on a redirect to ``target``."""
    cookie = secrets.token_urlsafe(COOKIE_BYTES)
    await request.app.state.identities.sessions.start(cookie, session)
    log.info("access.signed_in", who=who.name, role=who.role.value)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int((session.expires_at - session.created_at).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def new_session(request: Request, *, email: str) -> Session:
    return _session(request, email=email)


@router.post("/signout")
async def signout(request: Request) -> Response:
    cookie = cookie_parser(request.headers.get("cookie", "")).get(COOKIE, "")
    form = parse_qs((await request.body()).decode(errors="replace"))
    given = form.get("csrf", [""])[0]
    if cookie and not hmac.compare_digest(given.encode(), csrf_value(cookie).encode()):
        log.info("access.signout_refused", reason="csrf")
        return _form(request, "/", "Sign out from a page of this server.", status=403)
    if cookie:
        await request.app.state.identities.sessions.end(cookie)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def local(target: str) -> str:
    """``target`` if it is a path on this server, else ``/``: no open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target:  # browsers read "/\evil.example" as "//evil.example"
        return "/"
    return target


def _session(request: Request, **way_in: str) -> Session:
    now = datetime.now(UTC)
    hours = request.app.state.session_hours
    return Session(created_at=now, expires_at=now + timedelta(hours=hours), **way_in)


def _form(request: Request, target: str, error: str | None, status: int = 200) -> Response:
    context = {
        "next": target,
        "error": error,
        "title": "Sign in",
        "oidc": request.app.state.oidc is not None,
    }
    return templates.TemplateResponse(request, "signin.html", context, status_code=status)
