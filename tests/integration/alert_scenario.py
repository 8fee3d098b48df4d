"""A small org built so that each default coaching rule fires for exactly one rep, once.

June 2026 (the 1st is a Monday); every rep has a monthly quota of 30,000, wins
15,000 on June 1 (on pace, short of quota), has 60,000 of open deals due in June (4x the
15,000 still to make) and calls every working day, except:

- rep-nps gets six detractor NPS responses in a week        -> nps_negative
- rep-quiet stops calling after Wednesday June 10            -> no_calls
- rep-star wins another 20,000 on June 12                    -> target_hit
- rep-slow wins only 3,000 (on June 2)                       -> behind_pace (from June 8)
- rep-drop had a strong May 4 (big deals, calls, promoters) that leaves its 30-day
  window on June 3 (its pipeline, undated, opened that day) -> score_drop
- rep-thin has only 10,000 open for June (0.67x)             -> pipeline_thin (from June 5)
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from schemas.scorecard_definition import ScorecardDefinition
from scorers.intake import Message
from scorers.rep_scoring import Layout
from streams.worker.memory import Memory
from tests.streams.worker.planning import plan_into

REPS = ("rep-nps", "rep-quiet", "rep-star", "rep-slow", "rep-drop", "rep-thin", "rep-calm")
EXPECTED = {
    ("rep-thin", "pipeline_thin"),
    ("rep-nps", "nps_negative"),
    ("rep-quiet", "no_calls"),
    ("rep-star", "target_hit"),
    ("rep-slow", "behind_pace"),
    ("rep-drop", "score_drop"),
}
LAST_DAY = date(2026, 6, 19)


def _at(day: date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+00:00"


def scenario() -> list[bytes]:
    """The events, in occurred_at order, as JSON lines."""
    events: list[dict[str, Any]] = []
    n = 0

    def add(kind: str, rep: str, when: str, **fields: Any) -> None:
        nonlocal n
        n += 1
        events.append({"event_id": f"s{n:05d}", "event_type": kind, "rep_id": rep,
                       "occurred_at": when, **fields})  # fmt: skip

    may4 = date(2026, 5, 4)  # before the 8th: too early in May to judge anyone's pace
    for rep in REPS:
        joined = _at(may4, 6) if rep == "rep-drop" else _at(date(2026, 6, 1), 6)
        add("rep_upserted", rep, joined, name=rep, team_id="team-a", monthly_quota=30_000)
    for i in range(3):
        add("deal_won", "rep-drop", _at(may4, 9, i), deal_id=f"may-{i}", amount=9_000,
            opened_at=_at(may4 - timedelta(days=10), 9))  # fmt: skip
    for c in range(60):
        outcome = "meeting_booked" if c % 3 == 0 else "connected"
        add("call_logged", "rep-drop", _at(may4, 10 + c // 30, c % 30), call_id=f"m-{c}",
            duration_seconds=60, outcome=outcome)  # fmt: skip
    for r in range(9):
        add("nps_response", "rep-drop", _at(may4, 15, r), account_id="acct", score=10)
    add("deal_opened", "rep-drop", _at(may4, 16), deal_id="pipe-drop", amount=60_000)
    for i in range(1, 28):  # a call a working day until June
        day = may4 + timedelta(days=i)
        if day.weekday() < 5:
            add("call_logged", "rep-drop", _at(day, 11), call_id=f"late-may-{i}",
                duration_seconds=60, outcome="connected")  # fmt: skip
    june = [
        date(2026, 6, 1) + timedelta(days=i) for i in range((LAST_DAY - date(2026, 6, 1)).days + 1)
    ]
    for rep in REPS:
        if rep == "rep-slow":
            add("deal_won", rep, _at(date(2026, 6, 2), 8), deal_id=f"{rep}-1", amount=3_000,
                opened_at=_at(date(2026, 5, 20), 9))  # fmt: skip
        else:
            add("deal_won", rep, _at(date(2026, 6, 1), 8), deal_id=f"{rep}-1", amount=15_000,
                opened_at=_at(date(2026, 5, 20), 9))  # fmt: skip
    add("deal_won", "rep-star", _at(date(2026, 6, 12), 11), deal_id="rep-star-2", amount=20_000,
        opened_at=_at(date(2026, 6, 1), 9))  # fmt: skip
    for rep in REPS:
        if rep != "rep-drop":
            amount = 10_000 if rep == "rep-thin" else 60_000
            add("deal_opened", rep, _at(date(2026, 6, 1), 7), deal_id=f"{rep}-pipe",
                amount=amount, stage="proposal", expected_close="2026-06-26")  # fmt: skip
    for day in june:
        if day.weekday() >= 5:
            continue
        for rep in REPS:
            if rep == "rep-quiet" and day > date(2026, 6, 10):
                continue
            for c in range(6):
                outcome = "meeting_booked" if c == 0 else "connected"
                add("call_logged", rep, _at(day, 10 + c), call_id=f"{rep}-{day}-{c}",
                    duration_seconds=90, outcome=outcome)  # fmt: skip
    for i in range(6):
        add("nps_response", "rep-nps", _at(date(2026, 6, 8) + timedelta(days=i), 16),
            account_id=f"a{i}", score=2)  # fmt: skip
    events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    return [orjson.dumps(e) for e in events]


def reference_alerts(definition: ScorecardDefinition, lines: list[bytes]) -> list[tuple[str, str]]:
    """What the worker should raise, fed as the test feeds it: a day's events at a time, each
    day handled to the end before the next (caught up), on the event clock."""
    layout, memory = Layout.of(definition), Memory()
    days: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        days[orjson.loads(line)["occurred_at"][:10]].append(line)
    raised: list[tuple[str, str]] = []
    now = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, 23, tzinfo=UTC)
    for offset, (_, batch) in enumerate(sorted(days.items())):
        messages = [
            Message(orjson.loads(line)["rep_id"].encode(), line, "crm.calls", 0, offset)
            for line in batch
        ]
        plan = plan_into(layout, memory, messages, now)
        raised += [(a.rep_id, a.rule) for fired in plan.alerts.values() for a in fired]
    return raised
