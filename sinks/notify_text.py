"""What every channel says about an alert: a title, the facts that triggered it, a link.

Slack, Teams and e-mail each lay these out in their own format; the words are decided
here once, so the three read alike.
"""

from __future__ import annotations

import hashlib
from typing import Final
from urllib.parse import quote

from schemas.outputs import CoachingAlert

SEVERITY_MARK: Final = {"warning": "⚠️", "info": "ℹ️", "positive": "🎉"}  # noqa: RUF001


def title(alert: CoachingAlert) -> str:
    """``⚠️ no_calls: rep-007 (team-1)``."""
    team = f" ({alert.team_id})" if alert.team_id else ""
    return f"{SEVERITY_MARK[alert.severity]} {alert.rule}: {alert.rep_id}{team}"


def digest_title(alerts: list[CoachingAlert]) -> str:
    return f"Coaching digest: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}"


def digest_id(alerts: list[CoachingAlert]) -> str:
    """The same alerts give the same id: a repeated digest is recognisable as one."""
    joined = "\n".join(sorted(a.alert_id for a in alerts)).encode()
    return "digest-" + hashlib.sha256(joined).hexdigest()[:24]


def facts(alert: CoachingAlert) -> list[tuple[str, str]]:
    """Rep, rule, window, then each KPI value that triggered the rule, as label and text."""
    rows = [("Rep", alert.rep_id), ("Team", alert.team_id or "-"), ("Rule", alert.rule),
            ("Severity", alert.severity), ("As of", alert.as_of.isoformat())]  # fmt: skip
    if alert.window:
        rows.append(("Window", alert.window))
    rows += [(name, show(value)) for name, value in alert.evidence.items()]
    return rows


def show(value: float | int | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def rep_url(alert: CoachingAlert, base: str | None) -> str | None:
    """The rep's page on ``scorestream serve`` at ``base`` (None: no link)."""
    if not base:
        return None
    return f"{base.rstrip('/')}/reps/{quote(alert.rep_id, safe='')}"
