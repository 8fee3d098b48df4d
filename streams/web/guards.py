"""Two protections every response gets: a cap on request bodies, and security headers.

No route takes more than a sign-in form, so a body over ``MAX_BODY_BYTES`` is refused
(413) before anything reads it, whether it says its length or streams it chunked. The
headers keep the pages from being framed (clickjacking) or running a script that is not
one of ours (``script-src 'self'``: the pages have no inline scripts), stop MIME
sniffing and referrer leaks, and pin https once a browser saw it (HSTS).
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES: Final = 16 * 1024
"""Larger than any sign-in form, small enough that a flood of them costs nothing."""

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'self'"
)
"""Inline styles stay allowed: the pages set bar widths with ``style=``."""
DOCS_CSP: Final = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
"""/docs (Swagger UI, served offline) starts itself with an inline script."""
HSTS: Final = "max-age=31536000"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _too_large(self.max_bytes)(scope, receive, send)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await _too_large(self.max_bytes)(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: the security headers on every response (HSTS on https only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith("/docs")
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = DOCS_CSP if docs else CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                if https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, with_headers)


def _too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over {max_bytes} bytes"}, status_code=413)
