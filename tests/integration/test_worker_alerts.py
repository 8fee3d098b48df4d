"""Coaching alerts and score events through the real worker, Kafka and Redis.

The scenario (tests/integration/alert_scenario.py) is built so each default rule fires
for exactly one rep. Delivered twice, with the worker restarted half way, each alert
still arrives exactly once; score events carry the change an event caused.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import topics
from schemas.outputs import CoachingAlert, ScorecardUpdated
from schemas.scorecard_definition import load_definition
from schemas.settings import Settings
from sinks.redis_keys import RedisKeys
from tests.integration.alert_scenario import EXPECTED, REPS, reference_alerts, scenario
from tests.integration.worker_harness import System, produce_lines, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

QUIET_S = 5.0
"""After the expected alerts, how long the stream must stay quiet (several worker ticks)."""


def test_each_rule_fires_once_despite_redelivery_and_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    lines = scenario()
    assert set(reference_alerts(load_definition(), lines)) == EXPECTED  # the scenario's design
    # Day by day, as a CRM would send them: with the event clock, a day's events must not
    # race ahead of earlier days on other topics (a rep would look idle when its calls
    # are merely later in another topic).
    days: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        days[orjson.loads(line)["occurred_at"][:10]].append(line)
    batches = [[line for line in day for _ in (0, 1)] for _, day in sorted(days.items())]
    system = System.fresh(settings, tmp_path)

    def play(batches: list[list[bytes]]) -> None:
        sent = 0
        for batch in batches:  # every event delivered twice
            sent += produce_lines(settings.kafka_bootstrap, batch)
            wait_until(lambda n=sent: system.events_in() >= n, 60, f"{sent} events",
                       system.worker_logs)  # fmt: skip

    half = len(batches) // 2
    with system.worker():
        play(batches[:half])

    def all_reps_as_of_the_last_day() -> bool:
        cards = system.cards()
        as_of = {cards.get((rep, "team-a", "30d"), {}).get("as_of") for rep in REPS}
        assert as_of == {"2026-06-19"}, as_of
        return True

    with system.worker():  # a new process: state and alert markers must carry over
        play(batches[half:])
        wait_until(all_reps_as_of_the_last_day, 60, "every rep scored as of June 19",
                   system.worker_logs)  # fmt: skip
        wait_until(lambda: len(system.read_topic(topics.ALERTS)) >= len(EXPECTED), 30,
                   "the alerts", system.worker_logs)  # fmt: skip
        # Then quiet: a late or repeated alert would still arrive; none may.
        wait_until(lambda: system.metric("scorestream_alerts_total") >= len(EXPECTED), 30,
                   "the worker to count its alerts", system.worker_logs)  # fmt: skip
        time.sleep(QUIET_S)

    alerts = [CoachingAlert.model_validate(a) for a in system.read_topic(topics.ALERTS)]
    assert sorted((a.rep_id, a.rule) for a in alerts) == sorted(EXPECTED), [
        (a.rep_id, a.rule, a.as_of.isoformat(), a.evidence) for a in alerts
    ]
    assert len({a.alert_id for a in alerts}) == len(alerts)
    by_rule = {a.rule: a for a in alerts}
    assert by_rule["nps_negative"].evidence["nps"] == -100.0
    assert by_rule["nps_negative"].severity == "warning"
    assert (
        by_rule["target_hit"].severity == "positive"
        and by_rule["target_hit"].period == "2026-06-01"
    )
    assert by_rule["no_calls"].evidence["last_active"] == "2026-06-10"
    assert all(a.text for a in alerts)
    # The pages' copy: the capped Redis stream holds the same alerts (repeats allowed,
    # readers drop them by alert_id).
    entries: Any = system.redis().xrange(RedisKeys(system.prefix).alerts)
    streamed = [CoachingAlert.model_validate_json(fields[b"alert"]) for _, fields in entries]
    assert {a.alert_id: a for a in streamed} == {a.alert_id: a for a in alerts}

    updates = [ScorecardUpdated.model_validate(u) for u in system.read_topic(topics.UPDATES)]
    star_deal = [
        u for u in updates
        if u.rep_id == "rep-star" and u.window == "30d" and u.cause.kind == "event"
        and u.kpis["revenue_won"].value_change == 20_000
    ]  # fmt: skip
    assert star_deal, "the June 12 deal should move rep-star's 30d revenue by 20,000"
    assert star_deal[0].kpis["revenue_won"].value == 35_000
    assert star_deal[0].overall_change is not None
    assert any(u.cause.kind == "day_rollover" for u in updates)
