"""Leaderboard rows and their order: what ranks by what, and how ties break.

One rule for every ranking people see (the CLI, the API, the page): the score, then the
uncapped overall (``scorers.evaluate.rank_key``), then the rep id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pydantic import ConfigDict

from schemas.kpi_names import KpiName, Perspective
from scorers.evaluate import rank_key
from sinks.redis_keys import OVERALL, kpi_metric, perspective_metric

RANK_BY: Final[tuple[str, ...]] = (
    OVERALL,
    *(p.value for p in Perspective),
    *(kpi_metric(k.value) for k in KpiName),
)
"""Every valid ``by`` of ``leaderboard``: overall, a perspective, or ``kpi:NAME``."""


def metric_for(by: str) -> str:
    """The leaderboard METRIC for a ``by`` value; ValueError names the valid ones."""
    if by not in RANK_BY:
        raise ValueError(f"cannot rank by {by!r}; use one of: {', '.join(RANK_BY)}")
    return by if by == OVERALL or by.startswith("kpi:") else perspective_metric(by)


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    """One row of a leaderboard, as the CLI prints it and the API answers it (the OpenAPI
    document reads this class, under the API's rule that a body has no field unnamed)."""

    __pydantic_config__ = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    rank: int
    """1-based position; ties go to the higher uncapped overall, then the lower rep_id."""
    rep_id: str
    team_id: str | None
    score: float
    """The value ranked by (a 0..100 score, or the KPI's own value)."""
    overall: float | None
    perspectives: dict[str, float | None]
    overall_since_yesterday: float | None = None
    """Overall minus the rep's last overall of the day before (null: no score that day)."""
    rank_since_yesterday: int | None = None
    """Places moved up since the day before's overall ranking (only when ranked by overall)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "rep_id": self.rep_id,
            "team_id": self.team_id,
            "score": self.score,
            "overall": self.overall,
            "perspectives": self.perspectives,
            "overall_since_yesterday": self.overall_since_yesterday,
            "rank_since_yesterday": self.rank_since_yesterday,
        }


@dataclass(frozen=True, slots=True)
class DayScore:
    """A rep's overall at the end of one day (the last card written that day)."""

    day: str
    overall: float
    uncapped: float | None


def ranked(
    members: Iterable[tuple[str, float]], uncapped: dict[str, float], ascending: bool
) -> list[tuple[str, float]]:
    sign = -1.0 if ascending else 1.0
    return sorted(members, key=lambda m: rank_key(sign * m[1], uncapped.get(m[0]), m[0]))


def ranks_of(scores: dict[str, DayScore]) -> dict[str, int]:
    """Each rep's 1-based rank in a day's overall ranking."""
    order = sorted(scores, key=lambda r: rank_key(scores[r].overall, scores[r].uncapped, r))
    return {rep: rank for rank, rep in enumerate(order, start=1)}
