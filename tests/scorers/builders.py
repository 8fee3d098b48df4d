"""Small factories for CRM events in scorer tests: a line per event, defaults for the rest."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import orjson

from schemas.events import Event, parse_event
from scorers.fold import Folder, take
from scorers.state import RepState

_ids = itertools.count(1)


def event(event_type: str, at: str, rep: str = "ana", **fields: Any) -> Event:
    """An event of ``event_type`` at ``at`` (ISO with offset, or a day meaning noon UTC)."""
    if len(at) == 10:
        at = f"{at}T12:00:00+00:00"
    body = {
        "event_id": fields.pop("event_id", f"e{next(_ids)}"),
        "event_type": event_type,
        "occurred_at": at,
        "rep_id": rep,
        **fields,
    }
    return parse_event(orjson.dumps(body))


def opened(at: str, deal: str, amount: float, rep: str = "ana", **kw: Any) -> Event:
    return event("deal_opened", at, rep, deal_id=deal, amount=amount, **kw)


def staged(at: str, deal: str, stage: str, rep: str = "ana", **kw: Any) -> Event:
    return event("deal_stage_changed", at, rep, deal_id=deal, stage=stage, **kw)


def won(at: str, deal: str, amount: float, opened: str, rep: str = "ana", **kw: Any) -> Event:
    return event("deal_won", at, rep, deal_id=deal, amount=amount, opened_at=_iso(opened), **kw)


def lost(at: str, deal: str, opened: str, rep: str = "ana", **kw: Any) -> Event:
    return event("deal_lost", at, rep, deal_id=deal, opened_at=_iso(opened), **kw)


def reopened(at: str, deal: str, rep: str = "ana", **kw: Any) -> Event:
    return event("deal_reopened", at, rep, deal_id=deal, **kw)


def call(at: str, outcome: str = "connected", rep: str = "ana", **kw: Any) -> Event:
    return event(
        "call_logged", at, rep, call_id=f"c{next(_ids)}", duration_seconds=60, outcome=outcome, **kw
    )


def nps(at: str, score: int, rep: str = "ana", **kw: Any) -> Event:
    return event("nps_response", at, rep, account_id="acme", score=score, **kw)


def lead(at: str, converted: bool, rep: str = "ana", **kw: Any) -> Event:
    kind = "lead_converted" if converted else "lead_disqualified"
    return event(kind, at, rep, lead_id=f"l{next(_ids)}", **kw)


def account(at: str, renewed: bool, rep: str = "ana", **kw: Any) -> Event:
    kind = "account_renewed" if renewed else "account_churned"
    return event(kind, at, rep, account_id=f"a{next(_ids)}", **kw)


def course(at: str, hours: float, rep: str = "ana", **kw: Any) -> Event:
    return event("course_completed", at, rep, course_id="negotiation", hours=hours, **kw)


def directory(at: str, team: str, quota: float | None = None, rep: str = "ana", **kw: Any) -> Event:
    return event("rep_upserted", at, rep, name=rep.title(), team_id=team, monthly_quota=quota, **kw)


def _iso(day_or_time: str) -> str:
    return f"{day_or_time}T12:00:00+00:00" if len(day_or_time) == 10 else day_or_time


def day(text: str) -> int:
    return datetime.fromisoformat(text).date().toordinal()


def states_of(folder: Folder, events: list[Event]) -> dict[str, RepState]:
    """Every event folded in order (duplicates too), as the replay does: state per rep."""
    states: dict[str, RepState] = {}
    for e in events:
        state = states.setdefault(e.rep_id, RepState(e.rep_id))
        take(state, folder.fold(state, e, folder.day(e)))
    return states
