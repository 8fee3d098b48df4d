"""A worker started over a backlog raises the alerts of the caught-up state, and no others.

On the wall clock, a 30-day history ending today is produced before the worker starts:
while it reads it, the state is half-folded (a rep's calls may still be unread), so it
raises nothing; once caught up it runs the rules once, on the final state. Its alerts
must be exactly the rules evaluated once on the replay's final state.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas import topics
from schemas.outputs import CoachingAlert
from schemas.scorecard_definition import load_definition
from schemas.settings import Settings
from scorers.calendar import from_date
from scorers.clock import ClockMode, EventClock
from scorers.intake import Message
from scorers.planner import BatchInput, plan_batch
from scorers.rep_scoring import Layout
from tests.integration.worker_harness import SCORESTREAM, System, produce_lines, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

QUIET_S = 5.0


def rules_on_the_final_state(lines: list[bytes], now: datetime) -> set[tuple[str, str, str]]:
    """(rep, rule, alert_id) of the rules run once, with no rule state, on all of the log."""
    messages = [Message(orjson.loads(x)["rep_id"].encode(), x, "crm.calls", 0, i)
                for i, x in enumerate(lines)]  # fmt: skip
    inp = BatchInput(messages, now, from_date(now.date()), ClockMode.WALL, EventClock())
    plan = plan_batch(Layout.of(load_definition()), inp, {}, {}, {})
    return {(a.rep_id, a.rule, a.alert_id) for fired in plan.alerts.values() for a in fired}


def test_a_worker_started_over_a_backlog_raises_only_the_caught_up_states_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    if now + timedelta(minutes=5) > (now + timedelta(days=1)).replace(hour=0, minute=0):
        time.sleep(6 * 60)  # never across midnight: the day would move mid-test
        now = datetime.now(UTC)
    out = tmp_path / "backlog.jsonl"
    subprocess.run(
        [SCORESTREAM, "simulate", "--days", "30", "--end", now.date().isoformat(), "--seed", "4",
         "--teams", "3", "--reps-per-team", "5", "--malformed-share", "0", "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    lines = out.read_bytes().splitlines()
    want = rules_on_the_final_state(lines, now)
    system = System.fresh(settings, tmp_path)
    produce_lines(settings.kafka_bootstrap, lines)
    with system.worker(clock="wall"):
        wait_until(lambda: system.events_in() >= len(lines), 120, "the backlog",
                   system.worker_logs)  # fmt: skip
        wait_until(lambda: system.metric("scorestream_alerts_total") >= len(want), 60,
                   "the caught-up state's alerts", system.worker_logs)  # fmt: skip
        time.sleep(QUIET_S)
    alerts = [CoachingAlert.model_validate(a) for a in system.read_topic(topics.ALERTS)]
    got = {(a.rep_id, a.rule, a.alert_id) for a in alerts}
    assert len(alerts) == len(got), "an alert was raised twice"
    assert got == want

    callers = _called_every_weekday(lines, now)
    assert callers, "the scenario must have reps who call every working day"
    assert not [a for a in alerts if a.rule == "no_calls" and a.rep_id in callers]
    by_rep_period = {(a.rep_id, a.period) for a in alerts if a.rule == "behind_pace"}
    assert not [
        a for a in alerts if a.rule == "target_hit" and (a.rep_id, a.period) in by_rep_period
    ]


def _called_every_weekday(lines: list[bytes], now: datetime) -> set[str]:
    """Reps with a call on each of the last five working days before today."""
    days: dict[str, set[str]] = {}
    for line in lines:
        body = orjson.loads(line)
        if body["event_type"] == "call_logged":
            days.setdefault(body["rep_id"], set()).add(body["occurred_at"][:10])
    recent = [now.date() - timedelta(days=n) for n in range(1, 10)]
    weekdays = [d.isoformat() for d in recent if d.weekday() < 5][:5]
    return {rep for rep, seen in days.items() if all(d in seen for d in weekdays)}
