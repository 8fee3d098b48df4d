"""The CRM export importer, on the real public CSV files and on broken copies of them."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from schemas.events import (
    DealLost,
    DealOpened,
    DealWon,
    Event,
    RepUpserted,
    event_to_json,
    parse_event,
)
from streams.cli.import_crm import import_crm
from streams.runtime.exceptions import CrmImportError
from streams.sources.crm_import import (
    PIPELINE_FILE,
    PRODUCTS_FILE,
    TEAMS_FILE,
    CrmImport,
    load_crm_export,
    rep_id_of,
    slug,
)
from tests.paths import CRM_EXPORT

DATA = CRM_EXPORT


@pytest.fixture(scope="module", name="rows")
def fixture_rows() -> list[dict[str, str]]:
    if not (DATA / PIPELINE_FILE).is_file():
        pytest.fail(f"the public CRM export is missing at {DATA}")
    with (DATA / PIPELINE_FILE).open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module", name="imported")
def fixture_imported() -> CrmImport:
    return load_crm_export(DATA)


def test_won_and_lost_counts_equal_the_csv(imported: CrmImport, rows: list[dict[str, str]]) -> None:
    """Every Won row is one deal_won, every Lost row one deal_lost; every row with an
    engage_date one deal_opened; Prospecting rows (no date) are counted, not emitted."""
    stages = Counter(row["deal_stage"] for row in rows)
    counts = imported.counts()
    assert counts["deal_won"] == stages["Won"] == 4238
    assert counts["deal_lost"] == stages["Lost"] == 2473
    assert counts["deal_opened"] == sum(bool(row["engage_date"]) for row in rows) == 8300
    assert imported.open_deals == stages["Engaging"] == 1589
    assert imported.prospecting == stages["Prospecting"] == 500
    assert imported.rows == len(rows) == 8800
    assert imported.problems == []


def test_opened_at_the_products_list_price(imported: CrmImport) -> None:
    """Each opened deal is stage "engaging" on its engage_date at 09:00 UTC, at its product's
    list price: the pipeline's GTXPro is the product list's GTX Pro (4,821)."""
    opened = {e.deal_id: e for e in imported.events if isinstance(e, DealOpened)}
    z063 = opened["Z063OYW0"]  # Darcel Schlecht, GTXPro, Won, engaged 10/25/2016
    assert (z063.amount, z063.currency, z063.stage) == (4821.0, "USD", "engaging")
    assert z063.occurred_at == datetime(2016, 10, 25, 9, tzinfo=UTC)
    assert z063.event_id == "crm:Z063OYW0:deal_opened"
    assert (z063.rep_id, z063.team_id) == ("rep-darcel-schlecht", "team-melvin-marxen")
    with (DATA / PRODUCTS_FILE).open(newline="") as file:
        prices = {row["product"]: float(row["sales_price"]) for row in csv.DictReader(file)}
    with (DATA / PIPELINE_FILE).open(newline="") as file:
        for row in csv.DictReader(file):
            if row["engage_date"]:
                product = "GTX Pro" if row["product"] == "GTXPro" else row["product"]
                assert opened[row["opportunity_id"]].amount == prices[product]


def test_every_event_parses_back(imported: CrmImport) -> None:
    """The importer's output obeys the event contract, byte for byte through the wire form."""
    for event in imported.events:
        assert parse_event(event_to_json(event)) == event


def test_rep_directory_from_sales_teams(imported: CrmImport) -> None:
    """35 agents become reps under 6 manager teams, announced before any deal, without quota."""
    reps = [e for e in imported.events if isinstance(e, RepUpserted)]
    assert len(reps) == 35
    assert len({r.team_id for r in reps}) == 6
    assert imported.events[: len(reps)] == reps
    assert all(r.monthly_quota is None for r in reps)
    darcel = next(r for r in reps if r.name == "Darcel Schlecht")
    assert (darcel.rep_id, darcel.team_id) == ("rep-darcel-schlecht", "team-melvin-marxen")
    deal_reps = {e.rep_id for e in imported.events if not isinstance(e, RepUpserted)}
    assert deal_reps <= {r.rep_id for r in reps}
    assert all(r.email is None and r.manager_email is None for r in reps)  # none in the export


def test_an_email_domain_gives_reps_and_managers_addresses() -> None:
    reps = [e for e in load_crm_export(DATA, "acme.test").events if isinstance(e, RepUpserted)]
    darcel = next(r for r in reps if r.name == "Darcel Schlecht")
    assert (darcel.email, darcel.manager_email) == (
        "darcel-schlecht@acme.test", "melvin-marxen@acme.test",
    )  # fmt: skip
    assert len({r.manager_email for r in reps}) == 6


def test_won_row_mapping(imported: CrmImport) -> None:
    """Opportunity 1C1I7A6R: closed 3/1/2017 at 17:00 UTC, opened 10/20/2016 at 09:00, 1054."""
    won = next(e for e in imported.events if isinstance(e, DealWon) and e.deal_id == "1C1I7A6R")
    assert won.event_id == "crm:1C1I7A6R:deal_won"
    assert won.occurred_at == datetime(2017, 3, 1, 17, tzinfo=UTC)
    assert won.opened_at == datetime(2016, 10, 20, 9, tzinfo=UTC)
    assert (won.amount, won.currency) == (1054.0, "USD")
    assert (won.rep_id, won.team_id) == ("rep-moses-frase", "team-dustin-brinkmann")


def test_events_in_time_order_with_stable_ids(imported: CrmImport) -> None:
    """Deal events come in time order (openings and outcomes), and a second import yields the
    very same ids."""
    times = [e.occurred_at for e in imported.events]
    assert times == sorted(times)
    assert len({e.event_id for e in imported.events}) == len(imported.events)
    again = load_crm_export(DATA)
    assert [e.event_id for e in again.events] == [e.event_id for e in imported.events]


def test_slugs() -> None:
    """Names become ASCII lower-case dash slugs, prefixed by kind."""
    assert slug("Mei-Mei Johns") == "mei-mei-johns"
    assert slug("  Zoë  O'Brien ") == "zoe-o-brien"
    assert rep_id_of("Anna Snelling") == "rep-anna-snelling"


# --- broken input --------------------------------------------------------------------


def broken_copy(tmp_path: Path, extra_pipeline: list[str], extra_teams: list[str]) -> Path:
    """The real export with bad lines appended; returns the folder."""
    shutil.copy(DATA / PIPELINE_FILE, tmp_path / PIPELINE_FILE)
    shutil.copy(DATA / TEAMS_FILE, tmp_path / TEAMS_FILE)
    shutil.copy(DATA / PRODUCTS_FILE, tmp_path / PRODUCTS_FILE)
    for name, lines in ((PIPELINE_FILE, extra_pipeline), (TEAMS_FILE, extra_teams)):
        with (tmp_path / name).open("a") as file:
            file.writelines(line + "\n" for line in lines)
    return tmp_path


BAD_PIPELINE = [
    "BAD00001,Moses Frase,GTXPro,Cancity,Won,13/45/2017,3/1/2017,100",  # line 8802
    "BAD00002,Moses Frase,GTXPro,Cancity,Won,1/5/2017,3/1/2017,lots",  # 8803
    "BAD00003,Moses Frase,GTXPro,Cancity,Won,1/5/2017,3/1/2017,-5",  # 8804
    "BAD00004,Moses Frase,GTXPro,Cancity,Won,4/5/2017,3/1/2017,100",  # 8805
    "BAD00005,Moses Frase,GTXPro,Cancity,Stalled,1/5/2017,3/1/2017,100",  # 8806
    "1C1I7A6R,Moses Frase,GTXPro,Cancity,Lost,1/5/2017,3/1/2017,0",  # 8807
    "BAD00007,,GTXPro,Cancity,Lost,1/5/2017,3/1/2017,0",  # 8808
    "BAD00008,Moses Frase,GTXPro,Cancity,Lost,1/5/2017,,0",  # 8809
    "GOOD0001,Moses Frase,GTXPro,Cancity,Won,1/5/2017,3/1/2017,250",  # 8810
    "ODD00001,Moses Frase,GTX Ultra,Cancity,Won,1/5/2017,3/1/2017,300",  # 8811
    "BAD00009,Moses Frase,GTXPro,Cancity,Engaging,,,",  # 8812
    "OPEN0001,Moses Frase,MG Special,Cancity,Engaging,6/1/2017,,",  # 8813
]


def test_bad_rows_are_reported_with_line_and_reason(tmp_path: Path) -> None:
    """Each unconvertible row is skipped and named (file, line, why); the rest still imports."""
    folder = broken_copy(tmp_path, BAD_PIPELINE, ["Lone Agent,,West", "Moses Frase,Someone,East"])
    result = load_crm_export(folder)
    problems = {(p.file, p.line): p.reason for p in result.problems}
    expected_substrings = {
        (PIPELINE_FILE, 8802): "engage_date '13/45/2017' is not a M/D/YYYY date",
        (PIPELINE_FILE, 8803): "close_value 'lots'",
        (PIPELINE_FILE, 8804): "close_value '-5'",
        (PIPELINE_FILE, 8805): "is before engage_date",
        (PIPELINE_FILE, 8806): "deal_stage 'Stalled'",
        (PIPELINE_FILE, 8807): "appears twice",
        (PIPELINE_FILE, 8808): "sales_agent is empty",
        (PIPELINE_FILE, 8809): "close_date is empty",
        (PIPELINE_FILE, 8811): "product 'GTX Ultra' is not in products.csv; deal_opened skipped",
        (PIPELINE_FILE, 8812): "engage_date is empty",
        (TEAMS_FILE, 37): "empty",
        (TEAMS_FILE, 38): "listed twice",
    }
    assert set(problems) == set(expected_substrings)
    for where, text in expected_substrings.items():
        assert text in problems[where], (where, problems[where])
    counts = result.counts()
    assert counts["deal_won"] == 4238 + 2  # GOOD0001 made it, and ODD00001's outcome
    assert counts["deal_lost"] == 2473
    assert counts["deal_opened"] == 8300 + 2  # GOOD0001, OPEN0001; not ODD00001's
    assert result.open_deals == 1589 + 1
    assert str(result.problems[0]).startswith("sales_teams.csv:37: ")


def test_missing_file_or_column_is_fatal(tmp_path: Path) -> None:
    """Only an unreadable export stops the import, with the file or column named."""
    with pytest.raises(CrmImportError, match="sales_teams.csv not found"):
        load_crm_export(tmp_path)
    (tmp_path / TEAMS_FILE).write_text("sales_agent,manager\nA,B\n")
    with pytest.raises(CrmImportError, match="products.csv not found"):
        load_crm_export(tmp_path)
    (tmp_path / PRODUCTS_FILE).write_text("product,sales_price\nGTX Basic,550\n")
    (tmp_path / PIPELINE_FILE).write_text("opportunity_id,sales_agent\nX,A\n")
    with pytest.raises(
        CrmImportError, match="close_date, close_value, deal_stage, engage_date, product"
    ):
        load_crm_export(tmp_path)


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture(name="cli")
def fixture_cli() -> typer.Typer:
    """import-crm on its own app: streams.cli registration is not under test here."""
    app = typer.Typer()
    app.command("import-crm")(import_crm)
    app.command("noop")(lambda: None)
    return app


def test_cli_writes_jsonl_and_reports_problems(cli: typer.Typer, tmp_path: Path) -> None:
    """import-crm --out: one line per event, problems on stderr and in --json, exit code 0."""
    (tmp_path / "in").mkdir()
    folder = broken_copy(tmp_path / "in", BAD_PIPELINE, [])
    out = tmp_path / "crm.jsonl"
    result = CliRunner().invoke(
        cli, ["import-crm", str(folder), "--out", str(out), "--json", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    lines = out.read_bytes().splitlines()
    events: list[Event] = [parse_event(line) for line in lines]
    assert summary["events"] == len(lines) == 35 + 4238 + 2 + 2473 + 8300 + 2
    assert summary["per_event_type"] == {
        "deal_lost": 2473,
        "deal_opened": 8302,
        "deal_won": 4240,
        "rep_upserted": 35,
    }
    assert (summary["rows"], summary["open_deals"], summary["prospecting_skipped"]) == (
        8812,
        1590,
        500,
    )
    assert [(p["file"], p["line"]) for p in summary["problems"]] == [
        (PIPELINE_FILE, line) for line in [*range(8802, 8810), 8811, 8812]
    ]
    assert "skipped sales_pipeline.csv:8806: deal_stage 'Stalled'" in result.stderr
    assert sum(isinstance(e, DealLost) for e in events) == 2473
