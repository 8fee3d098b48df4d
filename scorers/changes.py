"""What moved between two scorecards of the same subject and window."""

from __future__ import annotations

from dataclasses import dataclass

from scorers.scoring import Scorecard


@dataclass(frozen=True, slots=True)
class KpiChange:
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
    return ScorecardChange(
        overall=_diff(new.overall, previous.overall),
        perspectives={
            p: _diff(s, previous.perspectives.get(p)) for p, s in new.perspectives.items()
        },
        kpis={
            n: KpiChange(
                _diff(k.value, previous.kpis[n].value if n in previous.kpis else None),
                _diff(k.attainment, previous.kpis[n].attainment if n in previous.kpis else None),
                k.contribution - (previous.kpis[n].contribution if n in previous.kpis else 0.0),
            )
            for n, k in new.kpis.items()
        },
    )
