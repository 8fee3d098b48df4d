"""The worker's web port serves /health and /metrics only: faust's own pages (/table dumps
state, /router tells where keys live) would answer anyone who reaches the port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from schemas.settings import Settings
from tests.integration.worker_harness import System, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

FAUST_PAGES = (
    "/table/team-members/", "/table/team-index/", "/router/", "/router/key/team-members/x/",
    "/graph/", "/stats/", "/performance/",
)  # fmt: skip


def test_the_worker_serves_health_and_metrics_only(
    settings: Settings, tmp_path: Path, kafka_bootstrap: str
) -> None:
    system = System.fresh(settings, tmp_path)
    base = f"http://127.0.0.1:{system.web_port}"
    with system.worker():
        wait_until(system.ready, 60, "the worker to be ready", system.worker_logs)
        assert httpx.get(f"{base}/health").status_code == 200
        assert "scorestream_events_in_total" in httpx.get(f"{base}/metrics").text
        for path in FAUST_PAGES:
            response = httpx.get(base + path)
            assert response.status_code == 404, (path, response.text[:200])
