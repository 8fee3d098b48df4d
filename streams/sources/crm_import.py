"""Convert the public CRM export (sales_pipeline.csv, sales_teams.csv, products.csv) into our
CRM events.

The export is real data nobody here made: 35 agents under 6 managers, 8,800
opportunities, 2016-10 .. 2017-12. Mapping:

- each agent in sales_teams.csv -> ``rep_upserted`` (rep ``rep-<agent slug>``, team
  ``team-<manager slug>``, no quota: the export has none);
- every opportunity with an engage_date (Engaging, Won, Lost) -> ``deal_opened`` at
  engage_date 09:00 UTC, stage "engaging", amount its product's list price in USD
  (products.csv; the pipeline spells ``GTX Pro`` as ``GTXPro``): open deals have no
  close_value, and the list price is the natural expected amount;
- Won -> ``deal_won`` at close_date 17:00 UTC, opened engage_date 09:00 UTC, amount
  close_value (USD); Lost -> ``deal_lost``; Engaging ones stay open;
- Prospecting rows have no date at all: counted, not emitted.

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

from schemas.events import (
    DealLost,
    DealOpened,
    DealWon,
    Event,
    RepUpserted,
    describe_validation_error,
)
from streams.runtime.exceptions import CrmImportError

log = structlog.get_logger(__name__)

PIPELINE_FILE: Final = "sales_pipeline.csv"
TEAMS_FILE: Final = "sales_teams.csv"
PRODUCTS_FILE: Final = "products.csv"
PIPELINE_COLUMNS: Final = frozenset(
    {"opportunity_id", "sales_agent", "product", "deal_stage", "engage_date", "close_date",
     "close_value"}
)  # fmt: skip
TEAMS_COLUMNS: Final = frozenset({"sales_agent", "manager"})
PRODUCTS_COLUMNS: Final = frozenset({"product", "sales_price"})
STAGES: Final = frozenset({"Won", "Lost", "Engaging", "Prospecting"})
OPEN_STAGE: Final = "engaging"
"""The stage of every imported deal_opened: the export's Engaging (it knows no other)."""
PRODUCT_SPELLINGS: Final = {"GTXPro": "GTX Pro"}
"""The pipeline's spelling of a product -> the product list's."""
OPENED_AT: Final = time(9)  # the export has dates only; a working-day hour reads naturally
CLOSED_AT: Final = time(17)
DATE_FORMAT: Final = "%m/%d/%Y"


@dataclass(frozen=True)
class RowProblem:
    """A row, or the opening of its deal, that was skipped: file, line number (header is
    line 1) and why."""

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
    """Engaging opportunities: opened, not decided (a deal_opened each)."""
    prospecting: int = 0
    """Prospecting opportunities: no date at all, so not emitted."""

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


def load_crm_export(directory: Path, email_domain: str | None = None) -> CrmImport:
    """Read both files from ``directory`` and convert them; only missing files are fatal.

    The export names people but holds no e-mail: with ``email_domain`` each rep's and
    manager's address is made as ``<name slug>@<email_domain>`` (the usual company
    scheme), so they can sign in to ``serve``."""
    result = CrmImport()
    teams = _read_teams(directory / TEAMS_FILE, result)
    prices = _read_products(directory / PRODUCTS_FILE, result)
    deals = list(_read_pipeline(directory / PIPELINE_FILE, teams, prices, result))
    directory_time = min(
        (_at(deal.occurred_at.date(), time()) for deal in deals),
        default=datetime(1970, 1, 1, tzinfo=UTC),
    )
    result.events.extend(_rep_directory(teams, directory_time, email_domain))
    # Stable sort: the directory first (earliest time), then deal events in time order.
    result.events.extend(sorted(deals, key=lambda event: event.occurred_at))
    log.info(
        "crm_import.loaded",
        directory=str(directory),
        rows=result.rows,
        events=len(result.events),
        open_deals=result.open_deals,
        prospecting=result.prospecting,
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


def _read_products(path: Path, result: CrmImport) -> dict[str, float]:
    """Product name -> list price (USD)."""
    prices: dict[str, float] = {}
    for line, row in _read_rows(path, PRODUCTS_COLUMNS):
        try:
            prices[row["product"]] = _amount(row, "sales_price")
        except ValueError as exc:
            result.problems.append(RowProblem(path.name, line, str(exc)))
    return prices


def _read_pipeline(
    path: Path, teams: dict[str, str], prices: dict[str, float], result: CrmImport
) -> Iterator[DealOpened | DealWon | DealLost]:
    seen: set[str] = set()
    for line, row in _read_rows(path, PIPELINE_COLUMNS):
        result.rows += 1
        if row["deal_stage"] == "Prospecting":
            result.prospecting += 1
            continue
        try:
            outcome = _outcome(row, teams, seen)
        except ValueError as exc:
            result.problems.append(RowProblem(path.name, line, str(exc)))
            continue
        seen.add(row["opportunity_id"])
        if outcome is None:
            result.open_deals += 1
        else:
            yield outcome
        try:
            yield _opened(row, teams, prices)
        except ValueError as exc:  # the outcome stands on its own (a won deal never opened)
            result.problems.append(RowProblem(path.name, line, f"{exc}; deal_opened skipped"))


def _outcome(
    row: dict[str, str], teams: dict[str, str], seen: set[str]
) -> DealWon | DealLost | None:
    """A Won/Lost row's event (None for Engaging); ValueError says why the row cannot be one."""
    opportunity = row["opportunity_id"]
    agent = row["sales_agent"]
    stage = row["deal_stage"]
    if not opportunity:
        raise ValueError("opportunity_id is empty")
    if opportunity in seen:
        raise ValueError(f"opportunity_id {opportunity!r} appears twice")
    if not agent:
        raise ValueError("sales_agent is empty")
    if stage not in STAGES:
        raise ValueError(f"deal_stage {stage!r} is not Won, Lost, Engaging or Prospecting")
    engaged = _date(row, "engage_date")
    if stage == "Engaging":
        return None
    closed = _date(row, "close_date")
    if closed < engaged:
        raise ValueError(f"close_date {closed} is before engage_date {engaged}")
    envelope = {
        **_deal_envelope(row, teams),
        "occurred_at": _at(closed, CLOSED_AT),
        "opened_at": _at(engaged, OPENED_AT),
    }
    try:
        if stage == "Lost":
            return DealLost.model_validate({**envelope, "event_id": f"crm:{opportunity}:deal_lost"})
        return DealWon.model_validate(
            {
                **envelope,
                "event_id": f"crm:{opportunity}:deal_won",
                "amount": _amount(row, "close_value", "of a won deal "),
            }
        )
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None


def _opened(row: dict[str, str], teams: dict[str, str], prices: dict[str, float]) -> DealOpened:
    """The opening of a row's deal, on its engage_date at its product's list price."""
    product = row["product"]
    price = prices.get(PRODUCT_SPELLINGS.get(product, product))
    if price is None:
        raise ValueError(f"product {product!r} is not in {PRODUCTS_FILE}")
    body = {
        **_deal_envelope(row, teams),
        "event_id": f"crm:{row['opportunity_id']}:deal_opened",
        "occurred_at": _at(_date(row, "engage_date"), OPENED_AT),
        "amount": price,
        "currency": "USD",
        "stage": OPEN_STAGE,
    }
    try:
        return DealOpened.model_validate(body)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None


def _deal_envelope(row: dict[str, str], teams: dict[str, str]) -> dict[str, object]:
    manager = teams.get(row["sales_agent"])
    return {
        "rep_id": rep_id_of(row["sales_agent"]),
        "team_id": None if manager is None else team_id_of(manager),
        "deal_id": row["opportunity_id"],
    }


def _date(row: dict[str, str], column: str) -> date:
    text = row[column]
    if not text:
        raise ValueError(f"{column} is empty")
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a M/D/YYYY date") from None


def _amount(row: dict[str, str], column: str, what: str = "") -> float:
    text = row[column]
    try:
        amount = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} {what}is not a number") from None
    if not (math.isfinite(amount) and amount >= 0):
        raise ValueError(f"{column} {text!r} {what}is not a finite amount >= 0")
    return amount


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, UTC)


def _rep_directory(
    teams: dict[str, str], at: datetime, email_domain: str | None
) -> Iterator[Event]:
    for agent, manager in teams.items():
        rep_id = rep_id_of(agent)
        yield RepUpserted(
            event_id=f"crm:{rep_id}:rep_upserted",
            occurred_at=at,
            rep_id=rep_id,
            team_id=team_id_of(manager),
            name=agent,
            email=None if email_domain is None else f"{slug(agent)}@{email_domain}",
            manager_email=None if email_domain is None else f"{slug(manager)}@{email_domain}",
        )
