"""The Jinja environment of the pages: templates from this package, filters for numbers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates

from scorers.access import AlertList, Versions, may_see
from streams.views.formatting import number, score, signed

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["number"] = number
templates.env.filters["score"] = score
templates.env.filters["label"] = lambda name: str(name).replace("_", " ")
templates.env.filters["signed"] = lambda value: signed(value, none="")
templates.env.filters["percent"] = lambda value: "-" if value is None else f"{value:.0%}"


ACRONYMS = {"nps": "NPS"}


def kpi_label(name: str) -> str:
    """``call_to_meeting`` as "Call to meeting", ``nps`` as "NPS"."""
    text = ACRONYMS.get(name, name.replace("_", " "))
    return text[:1].upper() + text[1:]


def when(iso: str | None) -> str:
    """An ISO timestamp as "2026-11-28 06:56:21 UTC" (seconds are enough for people)."""
    if not iso:
        return "?"
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")


def segment(value: object) -> str:
    """An id as one URL path segment: ``/`` too is escaped (a rep id may hold one), so
    ``a/../b`` links to rep ``a/../b``, not to what a browser makes of the dots."""
    return quote(str(value), safe="")


def sees(request: Request, page: str) -> bool:
    """Whether the caller's role opens ``page`` (``alerts`` or ``scorecard``): the
    navigation shows only links that open."""
    who = getattr(request.state, "principal", None)
    resource = AlertList() if page == "alerts" else Versions()
    return who is not None and may_see(who, resource)


templates.env.filters["kpi_label"] = kpi_label
templates.env.globals["sees"] = sees
templates.env.filters["segment"] = segment
templates.env.filters["when"] = when
