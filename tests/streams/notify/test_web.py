"""/healthz and /metrics of notify; a busy port is logged, and delivering goes on."""

from __future__ import annotations

import asyncio
import socket

import httpx

from streams.notify.metrics import NotifyMetrics
from streams.notify.web import create_app, serve_in_background
from tests.redis_server import free_port


async def test_health_and_metrics_are_served_and_a_busy_port_is_not_fatal() -> None:
    metrics = NotifyMetrics()
    metrics.sent.labels("floor").inc()
    healthy = {"now": True}
    app = create_app(metrics, {}, lambda: healthy["now"])
    port = free_port()
    server = serve_in_background(app, "127.0.0.1", port)
    assert server is not None and server.task is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(50):
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert health.status_code == 200 and health.json()["status"] == "ok"
            text = (await client.get("/metrics")).text
            assert 'scorestream_notify_sent_total{channel="floor"} 1.0' in text
            healthy["now"] = False
            assert (await client.get("/healthz")).status_code == 503
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            assert serve_in_background(app, "127.0.0.1", taken.getsockname()[1]) is None
    finally:
        server.should_exit = True
        await server.task
