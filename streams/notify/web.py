"""notify's /healthz and Prometheus /metrics, served on the service's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.notify.lanes import ChannelLane
from streams.notify.metrics import NotifyMetrics

log = structlog.get_logger(__name__)


def create_app(
    metrics: NotifyMetrics, lanes: Mapping[str, ChannelLane], healthy: Callable[[], bool]
) -> FastAPI:
    """``/healthz``: 200 while the consumer polls (a channel being down is reported, not an
    outage of notify: its alerts are parked), 503 otherwise. ``/metrics``: Prometheus."""
    app = FastAPI(title="scorestream notify", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        body: dict[str, Any] = {
            "status": "ok" if healthy() else "not consuming",
            "channels": {name: "down" if lane.down else "up" for name, lane in lanes.items()},
        }
        return JSONResponse(body, status_code=200 if healthy() else 503)

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class WebServer(uvicorn.Server):
    """uvicorn on the service's loop, leaving SIGTERM and SIGINT to the service: uvicorn's
    own handlers would replace the service's and stop only the web server."""

    task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_in_background(app: FastAPI, host: str, port: int) -> WebServer | None:
    """Serve ``app`` on the running loop; None (logged) when the port cannot be bound.

    Delivering alerts matters more than exposing metrics: a busy port is an error in the
    log, not a reason to stop delivering.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        log.error("cannot serve /healthz and /metrics; delivering anyway", host=host,
                  port=port, error=str(exc))  # fmt: skip
        return None
    server = WebServer(uvicorn.Config(app, log_level="warning"))
    server.task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("serving /healthz and /metrics", host=host, port=sock.getsockname()[1])
    return server
