"""An independent, deliberately naive computation of the KPI semantics, to check the replay.

It shares nothing with ``scorers`` but the event parser: no buckets, no integer
units, no incremental deal resolution — it filters and recounts events per window
straight from the written semantics, with plain floats.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.events import Event, parse_event
from schemas.exceptions import EventError

DEAL_TYPES = {"deal_opened", "deal_stage_changed", "deal_won", "deal_lost", "deal_reopened"}
OPEN_TYPES = {"deal_opened", "deal_stage_changed", "deal_reopened"}
# The default scorecard's numbers, written out again: data, not code shared with scorers.
DEFAULT_QUOTA = 60000.0
STAGES = {"open": 0.1, "qualified": 0.25, "proposal": 0.45, "engaging": 0.6, "negotiation": 0.7}
OTHER_STAGE = 0.1


def first_day(window: str, as_of: date) -> date:
    if window.endswith("d"):
        return as_of - timedelta(days=int(window[:-1]) - 1)
    if window == "week":
        return as_of - timedelta(days=as_of.weekday())
    if window == "month":
        return date(as_of.year, as_of.month, 1)
    assert window == "quarter"
    return date(as_of.year, (as_of.month - 1) // 3 * 3 + 1, 1)


def last_day(window: str, as_of: date) -> date:
    """The last day of the calendar period holding as_of."""
    if window == "week":
        return first_day(window, as_of) + timedelta(days=6)
    months = 1 if window == "month" else 3
    start = first_day(window, as_of)
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def whole_period_quota(window: str, monthly: float) -> float:
    if window == "month":
        return monthly
    if window == "quarter":
        return 3 * monthly
    return monthly * 7 / (365 / 12)


def open_deals(
    events: list[Event], rates: dict[str, float]
) -> dict[str, list[tuple[float, date | None, str | None]]]:
    """Per rep, each open deal's (amount in USD, expected close, stage), from the events
    given (those up to the as-of day): the latest deal event decides; each of amount, close
    and stage is the one of the latest event that carries it."""
    by_deal: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in events:
        if e.event_type in DEAL_TYPES:
            by_deal[(e.rep_id, e.deal_id)].append(e)  # type: ignore[union-attr]
    out: dict[str, list[tuple[float, date | None, str | None]]] = defaultdict(list)
    for (rep, _), deal_events in by_deal.items():
        ordered = sorted(deal_events, key=lambda x: (x.occurred_at, x.event_id))
        if ordered[-1].event_type not in OPEN_TYPES:
            continue
        amount, close, stage = 0.0, None, None
        for x in ordered:
            if getattr(x, "amount", None) is not None:
                amount = x.amount * rates[x.currency or "USD"]
            if getattr(x, "expected_close", None) is not None:
                close = x.expected_close
            if getattr(x, "stage", None) is not None:
                stage = x.stage
        out[rep].append((amount, close, stage))
    return out


def reference(
    lines: list[bytes],
    windows: list[str],
    zone: str = "UTC",
    fx: dict[str, float] | None = None,
    as_of: date | None = None,
) -> tuple[date, dict[tuple[str, str], dict[str, float | None]]]:
    """(as_of, {(rep_id, window): {kpi: value}}) for reps with an event up to as_of."""
    rates = {"USD": 1.0, **(fx or {"EUR": 1.08, "GBP": 1.27})}
    tz = ZoneInfo(zone)
    events: list[Event] = []
    seen: set[tuple[str, str]] = set()
    for raw in lines:
        try:
            e = parse_event(raw)
        except EventError:
            continue
        if (getattr(e, "currency", None) or "USD") not in rates:
            continue
        if (e.rep_id, e.event_id) in seen:
            continue
        seen.add((e.rep_id, e.event_id))
        events.append(e)

    def day(e: Event) -> date:
        return e.occurred_at.astimezone(tz).date()

    if as_of is None:
        as_of = max(day(e) for e in events)
    events = [e for e in events if day(e) <= as_of]

    deals: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in events:
        if e.event_type in DEAL_TYPES:
            deals[(e.rep_id, e.deal_id)].append(e)  # type: ignore[union-attr]
    deciding = [max(es, key=lambda x: (x.occurred_at, x.event_id)) for es in deals.values()]
    pipelines = open_deals(events, rates)
    quotas: dict[str, float] = {}
    for e in sorted(events, key=lambda x: (x.occurred_at, x.event_id)):
        if e.event_type == "rep_upserted":
            quotas[e.rep_id] = e.monthly_quota or DEFAULT_QUOTA

    out: dict[tuple[str, str], dict[str, float | None]] = {}
    for rep in sorted({e.rep_id for e in events}):
        for window in windows:
            lo = first_day(window, as_of)

            def inside(e: Event, rep: str = rep, lo: date = lo) -> bool:
                return e.rep_id == rep and lo <= day(e) <= as_of

            mine = [e for e in events if inside(e)]
            won = [d for d in deciding if inside(d) and d.event_type == "deal_won"]
            lost = [d for d in deciding if inside(d) and d.event_type == "deal_lost"]
            calls = [e for e in mine if e.event_type == "call_logged"]
            scores = [e.score for e in mine if e.event_type == "nps_response"]
            conv = sum(e.event_type == "lead_converted" for e in mine)
            disq = sum(e.event_type == "lead_disqualified" for e in mine)
            ren = sum(e.event_type == "account_renewed" for e in mine)
            churn = sum(e.event_type == "account_churned" for e in mine)
            courses = [e for e in mine if e.event_type == "course_completed"]
            revenue = sum(d.amount * rates[d.currency] for d in won)
            cycles = [(d.occurred_at - d.opened_at).total_seconds() / 86400 for d in won]

            def ratio(a: float, b: float) -> float | None:
                return a / b if b else None

            monthly = quotas.get(rep, DEFAULT_QUOTA)
            mine_open = pipelines.get(rep, [])
            pipeline = sum(amount for amount, _, _ in mine_open)
            if window.endswith("d"):
                coverage = ratio(pipeline, monthly * int(window[:-1]) / (365 / 12))
                forecast = None
            else:
                hi = last_day(window, as_of)
                in_period = [d for d in mine_open if d[1] is None or lo <= d[1] <= hi]
                quota = whole_period_quota(window, monthly)
                to_make = quota - revenue
                coverage = sum(d[0] for d in in_period) / to_make if to_make > 0 else None
                weighted = sum(
                    STAGES.get(stage or "", OTHER_STAGE) * amount
                    for amount, close, stage in in_period
                    if close is not None
                )
                forecast = (revenue + weighted) / quota

            out[(rep, window)] = {
                "revenue_won": revenue,
                "deals_won": float(len(won)),
                "avg_deal_size": ratio(revenue, len(won)),
                "win_rate": ratio(len(won), len(won) + len(lost)),
                "sales_cycle_days": ratio(sum(cycles), len(cycles)),
                "calls_logged": float(len(calls)),
                "call_to_meeting": ratio(
                    sum(c.outcome == "meeting_booked" for c in calls),
                    len(calls),
                ),
                "lead_conversion": ratio(conv, conv + disq),
                "nps": ratio(
                    100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)), len(scores)
                ),
                "retention_rate": ratio(ren, ren + churn),
                "courses_completed": float(len(courses)),
                "training_hours": sum(c.hours for c in courses),
                "open_pipeline": pipeline,
                "pipeline_coverage": coverage,
                "forecast_attainment": forecast,
            }
    return as_of, out


def assert_matches_reference(
    result: dict[str, Any], lines: list[bytes], windows: list[str], as_of: date | None = None
) -> None:
    """Every KPI value of every rep and window in a replay JSON result equals the reference
    to 1e-6, and no rep or window is missing or extra."""
    ref_as_of, expected = reference(lines, windows, as_of=as_of)
    assert result["as_of"] == ref_as_of.isoformat()
    got = {
        (s["rep_id"], s["window"]): {k: v["value"] for k, v in s["kpis"].items()}
        for s in result["scorecards"]
    }
    assert got.keys() == expected.keys()
    for key, kpis in expected.items():
        for name, value in kpis.items():
            if value is None:
                assert got[key][name] is None, (key, name)
            else:
                assert got[key][name] == pytest.approx(value, rel=1e-9, abs=1e-6), (key, name)
