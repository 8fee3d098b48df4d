"""A CoachingAlert as the worker raises it, for the notify tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.outputs import CoachingAlert


def make_alert(**fields: Any) -> CoachingAlert:
    base: dict[str, Any] = {
        "alert_id": "al-nps-rep-007-2026-06-10", "rule": "nps_negative", "kind": "threshold",
        "severity": "warning", "rep_id": "rep-007", "team_id": "team-1", "window": "7d",
        "period": "2026-06-10", "as_of": date(2026, 6, 10),
        "evidence": {"nps": -100.0, "responses": 6, "last_active": "2026-06-10"},
        "text": "NPS over the last 7 days is -100 (6 responses) <below> & under -20",
        "raised_at": datetime.now(UTC),
    }  # fmt: skip
    return CoachingAlert.model_validate(base | fields)
