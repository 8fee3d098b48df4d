"""The gateway's ASGI app: one producer and one directory reader per process, the routes.

It writes to Kafka only, so any number can run side by side behind a load balancer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from pydantic import TypeAdapter

from schemas.events import Event
from schemas.settings import Settings
from sinks.kafka_ingest import IngestProducer
from streams.ingest import routes
from streams.ingest.directory import DirectoryReader
from streams.ingest.gateway import RETRY_AFTER_S, Gateway, Refusal
from streams.ingest.hooks import Hook
from streams.ingest.metrics import UNKNOWN_SOURCE
from streams.runtime import connections


def create_app(settings: Settings, hooks: dict[str, Hook]) -> FastAPI:
    """The app for ``settings``; ``hooks`` from ``streams.ingest.hooks.load_hooks``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = IngestProducer(
            connections.kafka_config(settings),
            retry_after_s=RETRY_AFTER_S,
            client_id="scorestream-ingest",
        )
        directory = DirectoryReader(settings, asyncio.get_running_loop())
        directory.start()
        app.state.gateway = Gateway(
            settings, producer, directory, hooks, settings.ingest_key_list()
        )
        try:
            yield
        finally:
            directory.stop()
            await asyncio.to_thread(producer.close)

    app = FastAPIOffline(
        title="Scorestream ingest",
        summary="CRM events in: our contract, or a CRM's own webhooks through a mapping.",
        description=f"Limits: {settings.ingest_max_body_bytes} bytes and"
        f" {settings.ingest_max_events} events a request, {settings.ingest_rate_per_s:g}"
        f" requests a second per key (bursts of twice that); Kafka gets"
        f" {settings.ingest_deadline_s:g} s to take a request's events, else 503.",
        version="1",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.include_router(routes.router)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        gateway: Gateway | None = getattr(request.app.state, "gateway", None)
        if gateway is not None:
            label = _source_label(request.path_params.get("source"), gateway.hooks)
            gateway.metrics.refused.labels(label, str(exc.status)).inc()
        return exc.response()

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _source_label(source: str | None, hooks: dict[str, Hook]) -> str:
    """A refusal's ``source`` label: a served hook's name, ``events`` for /v1/events, else
    ``unknown`` (the path is the caller's text: labelled by it, every 404 would be a series)."""
    if source is None:
        return "events"
    return source if source in hooks else UNKNOWN_SOURCE


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the event contract the request bodies refer to."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                               description=app.description, routes=app.routes)  # fmt: skip
        schema = TypeAdapter(Event).json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components["Event"] = schema
        app.openapi_schema = document
    return app.openapi_schema
