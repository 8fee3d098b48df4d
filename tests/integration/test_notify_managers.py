"""CRM events in, the right manager's Slack (and Teams) receiver gets the right alerts.

Two teams play the alert scenario (each default rule fires once per team); team-b's
manager reads Slack, team-a's manager reads Teams and only wants warnings.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from schemas import topics
from schemas.outputs import CoachingAlert
from schemas.settings import Settings
from sinks.notify_text import title
from tests.integration.alert_scenario import scenario
from tests.integration.notify_harness import Notify, scaled
from tests.integration.worker_harness import System, produce_lines, wait_until
from tests.notify_receiver import receiver

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

ROUTES = """\
channels:
  mgr-a: {type: teams, url_env: TEAM_A_WORKFLOW}
  mgr-b: {type: slack, url_env: TEAM_B_SLACK}
routes:
  - {teams: [team-a], severities: [warning], to: [mgr-a]}
  - {teams: [team-b], to: [mgr-b]}
rep_page_url: http://127.0.0.1:8000
"""


def test_each_manager_gets_their_teams_alerts(settings: Settings, tmp_path: Path) -> None:
    lines = scaled(scenario(), ("team-a", "team-b"))
    days: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        days[orjson.loads(line)["occurred_at"][:10]].append(line)
    system = System.fresh(settings, tmp_path)
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(ROUTES)
    with receiver() as teams, receiver() as slack:
        notify = Notify.of(system, routes_file, {"TEAM_A_WORKFLOW": teams.url,
                                                 "TEAM_B_SLACK": slack.url})  # fmt: skip
        try:
            proc = notify.start()
            with system.worker():
                sent = 0
                for _, batch in sorted(days.items()):
                    sent += produce_lines(settings.kafka_bootstrap, batch)
                    wait_until(lambda n=sent: system.events_in() >= n, 60, f"{sent} events",
                               system.worker_logs)  # fmt: skip
                alerts = [CoachingAlert.model_validate(a) for a in system.read_topic(topics.ALERTS)]
            by_team = {t: [a for a in alerts if a.team_id == t] for t in ("team-a", "team-b")}
            warnings_a = [a for a in by_team["team-a"] if a.severity == "warning"]
            assert len(by_team["team-b"]) == 6 and len(warnings_a) == 3
            wait_until(lambda: len(slack.requests) >= 6 and len(teams.requests) >= 3, 60,
                       "the managers' messages", notify.logs)  # fmt: skip
            time.sleep(3)  # nothing more may come
            assert Notify.stop(proc) == 0, notify.logs()
        finally:
            notify.kill_leftovers()

    slack_got = [orjson.loads(r.body) for r in slack.requests]
    titles = sorted(m["blocks"][0]["text"]["text"] for m in slack_got)
    assert titles == sorted(title(a) for a in by_team["team-b"])
    star = next(m for m in slack_got if "target_hit" in m["blocks"][0]["text"]["text"])
    link = star["blocks"][-1]["elements"][0]["text"]
    assert link.startswith("<http://127.0.0.1:8000/reps/rep-star-team-b|")
    cards = [orjson.loads(r.body)["attachments"][0]["content"] for r in teams.requests]
    facts = [{f["title"]: f["value"] for f in card["body"][2]["facts"]} for card in cards]
    assert sorted(f["Rule"] for f in facts) == sorted(a.rule for a in warnings_a)
    assert {f["Team"] for f in facts} == {"team-a"}
