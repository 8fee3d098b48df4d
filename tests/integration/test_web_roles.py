"""Roles end to end: the real worker scores a log into Redis, the real ``scorestream serve``
(with ``SCORESTREAM_WEB_TOKEN``) answers, and tokens from ``scorestream access grant``
open exactly what their role names.

The log is the alert scenario (tests/integration/alert_scenario.py: one coaching alert
for each of six reps) with its reps split over two teams.
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from schemas.outputs import CoachingAlert
from schemas.settings import Settings
from sinks.redis_keys import RedisKeys
from tests.http_probe import answers
from tests.integration.alert_scenario import EXPECTED, scenario
from tests.integration.worker_harness import SCORESTREAM, System, produce_lines, wait_until
from tests.redis_server import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

WEB_TOKEN = "integration-web-token-0123456789"
TEAM_OF = {
    "rep-nps": "team-a", "rep-quiet": "team-a", "rep-star": "team-a", "rep-calm": "team-a",
    "rep-slow": "team-b", "rep-drop": "team-b", "rep-thin": "team-b",
}  # fmt: skip
REVOKED_WITHIN_S = 2.0


def org_lines() -> list[bytes]:
    """The scenario with two teams (and each rep's e-mail and manager in the directory)."""
    out = []
    for line in scenario():
        event = orjson.loads(line)
        if event["event_type"] == "rep_upserted":
            team = TEAM_OF[event["rep_id"]]
            event |= {"team_id": team, "email": f"{event['rep_id']}@example.com",
                      "manager_email": f"lead-{team}@example.com"}  # fmt: skip
        out.append(orjson.dumps(event))
    return out


@pytest.fixture(name="system")
def fixture_system(settings: Settings, tmp_path: Any, kafka_bootstrap: str) -> Iterator[System]:
    system = System.fresh(settings, tmp_path)
    days: dict[str, list[bytes]] = defaultdict(list)
    for line in org_lines():
        days[orjson.loads(line)["occurred_at"][:10]].append(line)
    keys = RedisKeys(system.prefix)

    def alerted_reps() -> set[str]:
        entries: Any = system.redis().xrange(keys.alerts)
        return {CoachingAlert.model_validate_json(f[b"alert"]).rep_id for _, f in entries}

    with system.worker():
        sent = 0
        for _, day in sorted(days.items()):  # day by day, as a CRM sends them
            sent += produce_lines(settings.kafka_bootstrap, day)
            wait_until(lambda n=sent: system.events_in() >= n, 60, f"{sent} events",
                       system.worker_logs)  # fmt: skip
        wanted = {rep for rep, _ in EXPECTED}
        wait_until(lambda: alerted_reps() >= wanted, 60, "every rep's alert", system.worker_logs)
    yield system
    system.clear_redis()


@pytest.fixture(name="web")
def fixture_web(system: System) -> Iterator[str]:
    """The real ``scorestream serve`` with a web token, on the system's prefix."""
    port = free_port()
    env = {**system.env(), "SCORESTREAM_WEB_TOKEN": WEB_TOKEN}
    with (system.log_dir / "serve.log").open("wb") as log:
        proc = subprocess.Popen([SCORESTREAM, "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base}/healthz"), 20, "scorestream serve to answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def access(system: System, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([SCORESTREAM, "access", *args], env=system.env(), capture_output=True)


def grant(system: System, *options: str) -> tuple[str, str]:
    done = access(system, "grant", *options, "--json")
    assert done.returncode == 0, done.stderr.decode()
    body = orjson.loads(done.stdout)
    return body["id"], body["token"]


def status(base: str, path: str, token: str | None) -> int:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.get(base + path, headers=headers, timeout=10).status_code


def alert_reps(base: str, token: str) -> set[str]:
    response = httpx.get(f"{base}/api/alerts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {a["rep_id"] for a in response.json()["alerts"]}


def test_granted_tokens_open_exactly_what_their_role_names(system: System, web: str) -> None:
    every_alerted = {rep for rep, _ in EXPECTED}
    team_a_alerted = {rep for rep in every_alerted if TEAM_OF[rep] == "team-a"}
    assert status(web, "/api/leaderboard", None) == 401
    assert status(web, "/api/reps/rep-nps", None) == 401
    assert status(web, "/api/alerts", None) == 401
    assert alert_reps(web, WEB_TOKEN) == every_alerted  # the old token: an admin

    _, rep = grant(system, "--role", "rep", "--rep", "rep-nps")
    assert status(web, "/api/reps/rep-nps", rep) == 200
    assert status(web, "/api/leaderboard", rep) == 200
    assert alert_reps(web, rep) == {"rep-nps"}
    assert status(web, "/api/reps/rep-quiet", rep) == 403
    assert status(web, "/api/reps/rep-slow", rep) == 403

    _, manager = grant(system, "--role", "manager", "--team", "team-a")
    for member in ("rep-nps", "rep-quiet", "rep-star", "rep-calm"):
        assert status(web, f"/api/reps/{member}", manager) == 200, member
    assert status(web, "/api/teams/team-a", manager) == 200
    assert alert_reps(web, manager) == team_a_alerted
    assert status(web, "/api/reps/rep-slow", manager) == 403
    assert status(web, "/api/teams/team-b", manager) == 403

    _, directory_manager = grant(system, "--role", "manager", "--email", "lead-team-b@example.com")
    assert status(web, "/api/teams/team-b", directory_manager) == 200
    assert alert_reps(web, directory_manager) == every_alerted - team_a_alerted

    _, display = grant(system, "--role", "display", "--expires", "30d")
    assert status(web, "/api/leaderboard", display) == 200
    assert status(web, "/", display) == 200
    assert status(web, "/reps/rep-nps", display) == 403
    assert status(web, "/api/reps/rep-nps", display) == 403
    assert status(web, "/api/alerts", display) == 403

    rep_id, rep_token = grant(system, "--role", "rep", "--rep", "rep-star")
    assert status(web, "/api/reps/rep-star", rep_token) == 200
    assert access(system, "revoke", rep_id).returncode == 0
    revoked_at = time.monotonic()
    while status(web, "/api/reps/rep-star", rep_token) != 401:
        assert time.monotonic() - revoked_at < REVOKED_WITHIN_S, "the revoked token still works"
        time.sleep(0.1)
    listed = orjson.loads(access(system, "list", "--json").stdout)
    assert rep_id not in {g["id"] for g in listed} and len(listed) == 4
