"""CRM events in, coaching alerts out to two Standard Webhooks receivers that answer 500,
429 and hang for a while, with `notify` killed with kill -9 twice while alerts flow.

Every alert a route names reaches that channel, signed, with its alert_id as webhook-id;
no alert reaches a channel its routes do not name; repeats per channel are at most the
number of kills.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from standardwebhooks import Webhook

from schemas import topics
from schemas.outputs import CoachingAlert
from schemas.routes import parse_routes
from schemas.settings import Settings
from scorers.routing import deliveries_owed
from tests.integration.alert_scenario import EXPECTED, scenario
from tests.integration.notify_harness import Notify, scaled, webhook_secret
from tests.integration.worker_harness import System, produce_lines, wait_until
from tests.notify_receiver import Answer, Receiver, Script, receiver

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

TEAMS = ("team-a", "team-b", "team-c")
KILLS = 2
ROUTES = """\
channels:
  floor:
    type: webhook
    url_env: FLOOR_HOOK
    secret_env: FLOOR_HOOK_SECRET
    timeout_s: 2
    retry_for_s: 4
  coach:
    type: webhook
    url_env: COACH_HOOK
    secret_env: COACH_HOOK_SECRET
    timeout_s: 2
    retry_for_s: 4
routes:
  - rules: [nps_negative, no_calls, score_drop]
    severities: [warning]
    to: [floor]
  - teams: [team-b]
    to: [coach]
  - rules: [target_hit]
    to: [coach, floor]
"""


def troubled(first_500: int, then_429: int, hang_from: int, hangs: int) -> Script:
    """500 for a while, then 429 with Retry-After, then requests that hang past the
    sender's timeout (and fail), then 200."""

    def script(n: int, body: bytes, headers: dict[str, str]) -> Answer:
        if n < first_500:
            return Answer(500)
        if n < first_500 + then_429:
            return Answer(429, {"Retry-After": "1"})
        if hang_from <= n < hang_from + hangs:
            return Answer(503, delay_s=3)
        return Answer(200)

    return script


def delivered(hook: Receiver, secret: str) -> list[str]:
    """The alert ids the receiver took (2xx), each signature checked as a receiver would."""
    ids = []
    for request in hook.answered(200):
        body = Webhook(secret).verify(request.body, request.headers)  # raises if forged
        assert request.headers["webhook-id"] == body["alert_id"]
        ids.append(body["alert_id"])
    return ids


def test_alerts_reach_their_channels_through_failures_and_two_kills(
    settings: Settings, tmp_path: Path
) -> None:
    rng = random.Random(21)
    lines = scaled(scenario(), TEAMS)
    days: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        days[orjson.loads(line)["occurred_at"][:10]].append(line)
    system = System.fresh(settings, tmp_path)
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(ROUTES)
    secrets = {"floor": webhook_secret(b"floor"), "coach": webhook_secret(b"coach")}
    with (
        receiver(troubled(first_500=4, then_429=2, hang_from=8, hangs=2)) as floor,
        receiver(troubled(first_500=2, then_429=3, hang_from=6, hangs=1)) as coach,
    ):
        env = {"FLOOR_HOOK": floor.url, "FLOOR_HOOK_SECRET": secrets["floor"],
               "COACH_HOOK": coach.url, "COACH_HOOK_SECRET": secrets["coach"]}  # fmt: skip
        notify = Notify.of(system, routes_file, env)
        try:
            proc = notify.start()
            kills = 0
            with system.worker():
                sent = 0
                for i, (_, batch) in enumerate(sorted(days.items())):
                    sent += produce_lines(settings.kafka_bootstrap, batch)
                    wait_until(lambda n=sent: system.events_in() >= n, 60, f"{sent} events",
                               system.worker_logs)  # fmt: skip
                    # Kill at random moments once alerts flow (the receivers have seen some).
                    flowing = len(floor.requests) + len(coach.requests) > 3 * kills
                    if kills < KILLS and flowing and (rng.random() < 0.5 or i > len(days) - 4):
                        time.sleep(rng.uniform(0, 1.5))
                        Notify.kill(proc)
                        kills += 1
                        proc = notify.start()
                alerts = [CoachingAlert.model_validate(a) for a in system.read_topic(topics.ALERTS)]
                assert sorted({(a.rep_id.rsplit("-", 2)[0], a.rule) for a in alerts}) == sorted(
                    {(rep, rule) for rep, rule in EXPECTED}
                )  # the worker raised what the scenario is built for
            routing = parse_routes(ROUTES)
            owed: dict[str, set[str]] = {"floor": set(), "coach": set()}
            for alert in alerts:
                for d in deliveries_owed(alert, routing, alert.raised_at):
                    owed[d.channel].add(alert.alert_id)
            assert len(owed["floor"]) == 9 and len(owed["coach"]) == 8  # the file's intent

            def all_delivered() -> bool:
                for name, hook in (("floor", floor), ("coach", coach)):
                    missing = owed[name] - set(delivered(hook, secrets[name]))
                    assert not missing, f"{name} still misses {sorted(missing)}"
                return True

            wait_until(all_delivered, 180, "every routed alert delivered", notify.logs)
            assert kills == KILLS
            time.sleep(5)  # a late repeat would still arrive; count after it
            assert notify.healthy()
            metrics = notify.metrics()
            assert Notify.stop(proc) == 0, notify.logs()
        finally:
            notify.kill_leftovers()

    for name, hook in (("floor", floor), ("coach", coach)):
        ids = delivered(hook, secrets[name])
        assert set(ids) == owed[name], f"{name} got alerts its routes do not name"
        repeats = sum(n - 1 for n in Counter(ids).values())
        assert repeats <= KILLS, f"{name}: {repeats} repeats after {KILLS} kills"
        statuses = Counter(r.status for r in hook.requests)
        assert statuses[500] and statuses[429] and statuses[503], statuses  # it did go through
    assert 'scorestream_notify_sent_total{channel="floor"}' in metrics
