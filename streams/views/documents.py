"""The JSON documents of the read side, built once for the CLI's ``--json`` and the HTTP API.

``scorestream leaderboard --json`` and ``GET /api/leaderboard`` answer the same body
because both call ``leaderboard_document``; ``show --json`` and ``GET /api/reps/ID``
both call ``rep_document``. A bad parameter raises ``BadParameter`` and an unknown
rep or team ``NotFound``, each with the message a person needs; the CLI prints it,
the API answers 422 or 404 with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from schemas.kpi_names import Direction, KpiName
from schemas.outputs import CoachingAlert
from schemas.scorecard_definition import DefinitionError, load_definition
from schemas.windows import is_window
from scorers.versions import resolved
from sinks.redis_keys import KPI_METRIC, OVERALL
from streams.views.rankings import RANK_BY, LeaderboardRow
from streams.views.reading import RedisScorecardReader, public_card

WINDOW_SYNTAX = "Nd (e.g. 30d), week, month or quarter"
DEFAULT_LIMIT = 20
"""Rows of a leaderboard unless asked for more: the CLI's, the API's and the page's."""


class BadParameter(ValueError):
    """A query parameter that names nothing we can read; ``allowed`` lists what would."""

    def __init__(self, name: str, value: str, allowed: Sequence[str], hint: str) -> None:
        super().__init__(f"{name} {value!r}: use {hint}")
        self.name = name
        self.value = value
        self.allowed = list(allowed)


class NotFound(LookupError):
    """No scorecard for this rep or team (or window).

    ``str()`` is for operators (the CLI, an admin); ``message`` alone says what is missing
    without where it was looked for (the Redis prefix), for anyone else."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message}{hint}")
        self.message = message


def check_window(window: str) -> None:
    if not is_window(window):
        raise BadParameter(
            "window", window, ["7d", "30d", "week", "month", "quarter"], WINDOW_SYNTAX
        )


def check_by(by: str) -> None:
    if by not in RANK_BY:
        raise BadParameter("by", by, RANK_BY, f"one of {', '.join(RANK_BY)}")


async def leaderboard_rows(
    reader: RedisScorecardReader, window: str, by: str, team: str | None, limit: int | None
) -> list[LeaderboardRow]:
    """The ranking ``leaderboard_document`` shows; lower-is-better KPIs rank lowest first."""
    check_window(window)
    check_by(by)
    ascending = lower_is_better(by)
    return await reader.leaderboard(window, by, team=team, limit=limit, ascending=ascending)


def leaderboard_document(
    window: str,
    by: str,
    team: str | None,
    rows: Sequence[LeaderboardRow],
    definition_version: int | None,
) -> dict[str, Any]:
    """The board; ``definition_version``: the scorecard version in force."""
    return {
        "window": window,
        "by": by,
        "team": team,
        "definition_version": definition_version,
        "rows": [row.to_dict() for row in rows],
    }


async def rep_cards(
    reader: RedisScorecardReader, rep_id: str, window: str | None = None
) -> list[dict[str, Any]]:
    """The rep's stored cards (every window, or one), shortest window first."""
    if window is not None:
        check_window(window)
    cards = await reader.get_cards(rep_id, None if window is None else [window])
    if not cards and window is not None:
        others = await reader.get_cards(rep_id)
        if others:
            has = ", ".join(c["window"] for c in others)
            raise NotFound(f"no {window} scorecard for rep {rep_id!r}; it has {has}")
    if not cards:
        raise NotFound(
            f"no scorecards for rep {rep_id!r}",
            f" under prefix {reader.keys.prefix!r}"
            " (is the id right, and has the worker scored this rep yet?)",
        )
    return cards


def rep_document(rep_id: str, cards: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{"rep_id", "scorecards"}`` in the replay's shape (no ``change``/``updated_at``)."""
    return {"rep_id": rep_id, "scorecards": [public_card(c) for c in cards]}


async def team_document(
    reader: RedisScorecardReader, team_id: str, window: str = "30d"
) -> dict[str, Any]:
    """The team's cards (every window) and its members ranked by overall in ``window``."""
    check_window(window)
    cards = await reader.team_cards(team_id)
    members = await reader.leaderboard(window, OVERALL, team=team_id)
    version = await reader.definition_in_force()
    if not cards and not members:
        raise NotFound(
            f"no scorecards for team {team_id!r}",
            f" under prefix {reader.keys.prefix!r}"
            " (is the id right, and has the worker scored its reps yet?)",
        )
    return {
        "team_id": team_id,
        "scorecards": [public_card(c) for c in cards],
        "members": leaderboard_document(window, OVERALL, team_id, members, version),
    }


async def scorecard_document(reader: RedisScorecardReader) -> dict[str, Any]:
    """The scorecard version in force (who published it, when, why, what it changed from the
    one before, the definition itself) and every version the workers read, newest first."""
    published = await reader.definition_versions()
    in_force = await reader.definition_in_force()
    versions = resolved(published)
    current = None if in_force is None else versions.find(in_force)
    if current is None:
        raise NotFound(
            "no scorecard version in force",
            f" under prefix {reader.keys.prefix!r}"
            " (has a worker started? it publishes the first version)",
        )
    return {
        **versions.summary(current),
        "definition": current.definition.model_dump(mode="json"),
        "versions": [versions.summary(v) for v in reversed(published)],
    }


async def alerts_document(
    reader: RedisScorecardReader,
    limit: int,
    rep_id: str | None = None,
    keep: Callable[[CoachingAlert], bool] | None = None,
) -> dict[str, Any]:
    """The latest coaching alerts, newest first (of one rep, if given; those ``keep`` keeps)."""
    alerts = await reader.latest_alerts(limit, rep_id=rep_id, keep=keep)
    return {"alerts": [alert.model_dump(mode="json") for alert in alerts]}


def lower_is_better(by: str) -> bool:
    """Whether ``by`` is a KPI the shipped scorecard scores lower-is-better (sales cycle)."""
    if not by.startswith(KPI_METRIC):
        return False
    try:
        kpi = load_definition(None).kpis.get(KpiName(by.removeprefix(KPI_METRIC)))
    except DefinitionError:
        return False
    return kpi is not None and kpi.direction is Direction.LOWER
