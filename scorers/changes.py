"""What moved between two scorecards of the same subject and window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from scorers.scoring import Scorecard


class KpiChange(TypedDict):
    """A KPI's move in its published shape (a card's ``change`` in Redis, a score event's
    ``*_change``): a plain dict, as sixteen are built a card on the worker's hot path."""

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


def change(previous: Scorecard | None, new: Scorecard) -> ScorecardChange:
    """The change since ``previous``; with no previous scorecard, everything is new (from 0)."""
    kpis: dict[str, KpiChange] = {}
    if previous is None:
        for name, k in new.kpis.items():
            kpis[name] = {"value": k.value, "attainment": k.attainment,
                          "contribution": k.contribution}  # fmt: skip
        return ScorecardChange(new.overall, dict(new.perspectives), kpis)
    before_p, before_k = previous.perspectives, previous.kpis
    for name, k in new.kpis.items():
        old = before_k.get(name)
        if old is None:
            kpis[name] = {"value": None, "attainment": None, "contribution": k.contribution}
            continue
        # _diff inlined: sixteen KPIs a card, five cards a rep, every batch.
        value, was = k.value, old.value
        att, had = k.attainment, old.attainment
        kpis[name] = {
            "value": None if value is None or was is None else value - was,
            "attainment": None if att is None or had is None else att - had,
            "contribution": k.contribution - old.contribution,
        }
    return ScorecardChange(
        _diff(new.overall, previous.overall),
        {p: _diff(v, before_p.get(p)) for p, v in new.perspectives.items()},
        kpis,
    )
