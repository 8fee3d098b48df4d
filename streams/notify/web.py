"""notify's /healthz and Prometheus /metrics, served on the service's own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.notify.lanes import ChannelLane
from streams.notify.metrics import NotifyMetrics


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

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
