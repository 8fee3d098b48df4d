"""What moved between two scorecards of the same subject and window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from scorers.scoring import Scorecard


class KpiChange(NamedTuple):
    """A named tuple, as ``KpiScore``: sixteen a card, on the worker's hot path."""

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
        moved = [(n, k.contribution) for n, k in self.kpis.items() if abs(k.contribution) > 1e-9]
        return sorted(moved, key=lambda item: (-abs(item[1]), item[0]))[:count]


def _diff(new: float | None, old: float | None) -> float | None:
    return None if new is None or old is None else new - old


def change(previous: Scorecard | None, new: Scorecard) -> ScorecardChange:
    """The change since ``previous``; with no previous scorecard, everything is new (from 0)."""
    if previous is None:
        return ScorecardChange(
            overall=new.overall,
            perspectives=dict(new.perspectives),
            kpis={n: KpiChange(k.value, k.attainment, k.contribution) for n, k in new.kpis.items()},
        )
    before_p, before_k = previous.perspectives, previous.kpis
    kpis: dict[str, KpiChange] = {}
    for name, k in new.kpis.items():
        old = before_k.get(name)
        if old is None:
            kpis[name] = KpiChange(None, None, k.contribution)
            continue
        # _diff inlined: sixteen KPIs a card, five cards a rep, every batch.
        value, was = k.value, old.value
        att, had = k.attainment, old.attainment
        kpis[name] = KpiChange(
            None if value is None or was is None else value - was,
            None if att is None or had is None else att - had,
            k.contribution - old.contribution,
        )
    return ScorecardChange(
        overall=_diff(new.overall, previous.overall),
        perspectives={p: _diff(v, before_p.get(p)) for p, v in new.perspectives.items()},
        kpis=kpis,
    )
