"""What moved between two scorecards of the same subject and window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from scorers.scoring import KpiScore, Scorecard


class KpiChange(TypedDict):
    """A KPI's move in its published shape (a card's ``change`` in Redis, a score event's
    ``*_change``): a plain dict, dumped once per KPI score on the worker's hot path
    (``scorers.card_json``)."""

    value: float | None
    attainment: float | None
    contribution: float


@dataclass(frozen=True, slots=True)
class ScorecardChange:
    """new - previous for each score; None where either side has no value."""

    overall: float | None
    perspectives: dict[str, float | None]
    kpis: dict[str, KpiChange]

    def top_movers(self, count: int = 2) -> list[tuple[str, float]]:
        """KPIs whose contribution to the overall score moved most, largest first."""
        moved = [
            (n, k["contribution"]) for n, k in self.kpis.items() if abs(k["contribution"]) > 1e-9
        ]
        return sorted(moved, key=lambda item: (-abs(item[1]), item[0]))[:count]

    def to_dict(self) -> dict[str, object]:
        """The published shape (shares its dicts: serialise it, never change it)."""
        return {"overall": self.overall, "perspectives": self.perspectives, "kpis": self.kpis}


def _diff(new: float | None, old: float | None) -> float | None:
    return None if new is None or old is None else new - old


def kpi_change(old: KpiScore | None, new: KpiScore) -> KpiChange:
    """A KPI's move since ``old`` (None: the card it replaces had no such KPI)."""
    if old is None:
        return {"value": None, "attainment": None, "contribution": new.contribution}
    value, was, att, had = new.value, old.value, new.attainment, old.attainment
    return {
        "value": None if value is None or was is None else value - was,
        "attainment": None if att is None or had is None else att - had,
        "contribution": new.contribution - old.contribution,
    }


def first_change(new: KpiScore) -> KpiChange:
    """A KPI's move on a card with none before it: everything is new (from 0)."""
    return {"value": new.value, "attainment": new.attainment, "contribution": new.contribution}


def change(previous: Scorecard | None, new: Scorecard) -> ScorecardChange:
    """The change since ``previous``; with no previous scorecard, everything is new (from 0)."""
    if previous is None:
        kpis = {name: first_change(k) for name, k in new.kpis.items()}
    else:
        before = previous.kpis
        kpis = {name: kpi_change(before.get(name), k) for name, k in new.kpis.items()}
    return ScorecardChange(overall_change(previous, new), perspective_changes(previous, new), kpis)


def overall_change(previous: Scorecard | None, new: Scorecard) -> float | None:
    return new.overall if previous is None else _diff(new.overall, previous.overall)


def perspective_changes(previous: Scorecard | None, new: Scorecard) -> dict[str, float | None]:
    if previous is None:
        return dict(new.perspectives)
    before = previous.perspectives
    return {p: _diff(v, before.get(p)) for p, v in new.perspectives.items()}
