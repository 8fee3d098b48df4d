"""Convert the public CRM export (sales_pipeline.csv, sales_teams.csv) into our CRM events.

The export is real data nobody here made: 35 agents under 6 managers, 8,800
opportunities, 2016-10 .. 2017-12. Mapping:

- each agent in sales_teams.csv -> ``rep_upserted`` (rep ``rep-<agent slug>``, team
  ``team-<manager slug>``, no quota: the export has none);
- Won -> ``deal_won`` at close_date 17:00 UTC, opened engage_date 09:00 UTC,
  amount close_value (USD); Lost -> ``deal_lost``; Engaging/Prospecting are open
  deals and produce nothing.

Event ids derive from the opportunity id, so importing twice gives the same ids and
a scorer counts the second import as redelivery. A row that cannot be converted is
reported with its line number and reason and skipped; it never stops the import.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Final

import structlog
from pydantic import ValidationError

from schemas.events import DealLost, DealWon, Event, RepUpserted, describe_validation_error
from streams.exceptions import CrmImportError

log = structlog.get_logger(__name__)

PIPELINE_FILE: Final = "sales_pipeline.csv"
TEAMS_FILE: Final = "sales_teams.csv"
PIPELINE_COLUMNS: Final = frozenset(
    {"opportunity_id", "sales_agent", "deal_stage", "engage_date", "close_date", "close_value"}
)
TEAMS_COLUMNS: Final = frozenset({"sales_agent", "manager"})
OPEN_STAGES: Final = frozenset({"Engaging", "Prospecting"})
OPENED_AT: Final = time(9)  # the export has dates only; a working-day hour reads naturally
CLOSED_AT: Final = time(17)
DATE_FORMAT: Final = "%m/%d/%Y"


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped: file, line number (header is line 1) and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class CrmImport:
    """The converted events in event-time order (rep directory first) and what was skipped."""

    events: list[Event] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows: int = 0
    open_deals: int = 0

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(event.event_type for event in self.events).items()))


def slug(text: str) -> str:
    """``"Mei-Mei Johns"`` -> ``"mei-mei-johns"``: ASCII, lower case, dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def rep_id_of(agent: str) -> str:
    return f"rep-{slug(agent)}"


def team_id_of(manager: str) -> str:
    return f"team-{slug(manager)}"


def load_crm_export(directory: Path) -> CrmImport:
    """Read both files from ``directory`` and convert them; only missing files are fatal."""
    result = CrmImport()
    teams = _read_teams(directory / TEAMS_FILE, result)
    deals = list(_read_pipeline(directory / PIPELINE_FILE, teams, result))
    directory_time = min(
        (_at(deal.opened_at.date(), time()) for deal in deals),
        default=datetime(1970, 1, 1, tzinfo=UTC),
    )
    result.events.extend(_rep_directory(teams, directory_time))
    # Stable sort: the directory first (earliest time), then deals by close time.
    result.events.extend(sorted(deals, key=lambda event: event.occurred_at))
    log.info(
        "crm_import.loaded",
        directory=str(directory),
        rows=result.rows,
        events=len(result.events),
        open_deals=result.open_deals,
        problems=len(result.problems),
    )
    return result


def _read_rows(path: Path, required: frozenset[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; the line number is where the row ends, as csv counts it."""
    if not path.is_file():
        raise CrmImportError(f"{path} not found; expected the CRM export's {path.name}")
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise CrmImportError(f"{path} lacks the columns {', '.join(sorted(missing))}")
        for row in reader:
            yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def _read_teams(path: Path, result: CrmImport) -> dict[str, str]:
    """Agent name -> manager name."""
    teams: dict[str, str] = {}
    for line, row in _read_rows(path, TEAMS_COLUMNS):
        agent, manager = row["sales_agent"], row["manager"]
        if not agent or not manager:
            result.problems.append(RowProblem(path.name, line, "sales_agent or manager is empty"))
        elif agent in teams:
            result.problems.append(RowProblem(path.name, line, f"agent {agent!r} listed twice"))
        else:
            teams[agent] = manager
    return teams


def _read_pipeline(
    path: Path, teams: dict[str, str], result: CrmImport
) -> Iterator[DealWon | DealLost]:
    seen: set[str] = set()
    for line, row in _read_rows(path, PIPELINE_COLUMNS):
        result.rows += 1
        if row["deal_stage"] in OPEN_STAGES:
            result.open_deals += 1
            continue
        try:
            event = _deal_event(row, teams, seen)
        except ValueError as exc:
            result.problems.append(RowProblem(path.name, line, str(exc)))
            continue
        seen.add(row["opportunity_id"])
        yield event


def _deal_event(row: dict[str, str], teams: dict[str, str], seen: set[str]) -> DealWon | DealLost:
    """One Won/Lost row as an event; ValueError says why the row cannot be one."""
    opportunity = row["opportunity_id"]
    agent = row["sales_agent"]
    stage = row["deal_stage"]
    if not opportunity:
        raise ValueError("opportunity_id is empty")
    if opportunity in seen:
        raise ValueError(f"opportunity_id {opportunity!r} appears twice")
    if not agent:
        raise ValueError("sales_agent is empty")
    if stage not in ("Won", "Lost"):
        raise ValueError(f"deal_stage {stage!r} is not Won, Lost, Engaging or Prospecting")
    engaged = _date(row, "engage_date")
    closed = _date(row, "close_date")
    if closed < engaged:
        raise ValueError(f"close_date {closed} is before engage_date {engaged}")
    manager = teams.get(agent)
    envelope = {
        "occurred_at": _at(closed, CLOSED_AT),
        "opened_at": _at(engaged, OPENED_AT),
        "rep_id": rep_id_of(agent),
        "team_id": None if manager is None else team_id_of(manager),
        "deal_id": opportunity,
    }
    try:
        if stage == "Lost":
            return DealLost.model_validate({**envelope, "event_id": f"crm:{opportunity}:deal_lost"})
        return DealWon.model_validate(
            {**envelope, "event_id": f"crm:{opportunity}:deal_won", "amount": _amount(row)}
        )
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None


def _date(row: dict[str, str], column: str) -> date:
    text = row[column]
    if not text:
        raise ValueError(f"{column} is empty")
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a M/D/YYYY date") from None


def _amount(row: dict[str, str]) -> float:
    text = row["close_value"]
    try:
        amount = float(text)
    except ValueError:
        raise ValueError(f"close_value {text!r} of a won deal is not a number") from None
    if not (math.isfinite(amount) and amount >= 0):
        raise ValueError(f"close_value {text!r} of a won deal is not a finite amount >= 0")
    return amount


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, UTC)


def _rep_directory(teams: dict[str, str], at: datetime) -> Iterator[Event]:
    for agent, manager in teams.items():
        rep_id = rep_id_of(agent)
        yield RepUpserted(
            event_id=f"crm:{rep_id}:rep_upserted",
            occurred_at=at,
            rep_id=rep_id,
            team_id=team_id_of(manager),
            name=agent,
        )
