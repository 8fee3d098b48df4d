"""The web app on a real uvicorn server in a thread, over a private Redis prefix."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from schemas.settings import Settings
from streams.web.app import create_app
from tests.redis_server import free_port


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """``create_app(settings)`` served on a free loopback port; yields its base URL."""
    with serving(create_app(settings)) as base:
        yield base


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Any ASGI app served on a free loopback port by uvicorn in a thread; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start in 15 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"
