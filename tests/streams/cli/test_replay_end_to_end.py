"""The replay on logs nobody hand-wrote: a simulated org with every CRM mess, and a real CRM export.

Both must give KPI values equal to the naive reference computation to 1e-6, and
every malformed line must be rejected with a reason.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from schemas.events import parse_event
from schemas.exceptions import EventError
from streams.cli.main import app
from streams.sources.crm_import import rep_id_of
from tests.paths import CRM_EXPORT
from tests.scorers.reference import assert_matches_reference

WINDOWS = ["7d", "30d", "90d", "quarter", "week", "month"]
runner = CliRunner()


def replay_json(path: Path, *args: str) -> dict[str, Any]:
    window_args = [a for w in WINDOWS for a in ("-w", w)]
    result = runner.invoke(app, ["replay", str(path), "--format", "json", *window_args, *args])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = orjson.loads(result.stdout)
    return out


def test_simulated_log_with_every_mess_matches_the_reference(tmp_path: Path) -> None:
    """Duplicates, late and reordered events, reopened deals, offsets, malformed lines."""
    log = tmp_path / "sim.jsonl"
    result = runner.invoke(
        app,
        ["simulate", "--days", "75", "--end", "2026-06-30", "--seed", "11", "--out", str(log),
         "--malformed-share", "0.01", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = log.read_bytes().splitlines()
    random.Random(3).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_bytes(b"\n".join(lines) + b"\n")

    events, malformed = [], []
    for n, line in enumerate(lines, 1):
        try:
            events.append(parse_event(line))
        except EventError:
            malformed.append(n)
    kinds = {e.event_type for e in events}
    offsets = {e.occurred_at.utcoffset() for e in events}
    assert {"deal_won", "deal_lost", "deal_reopened", "nps_response"} <= kinds
    assert len(offsets) > 1, "the log should carry non-UTC offsets"
    assert len(events) > len({(e.rep_id, e.event_id) for e in events}), "and duplicates"
    assert malformed, "and malformed lines"

    out = replay_json(shuffled)
    assert [r["line"] for r in out["rejected"]] == malformed
    assert all(r["reason"] for r in out["rejected"])
    assert out["duplicates"] == len(events) - len({(e.rep_id, e.event_id) for e in events})
    assert_matches_reference(out, lines, WINDOWS)


def test_real_crm_export_matches_the_reference(tmp_path: Path) -> None:
    """The public CRM export (8,800 opportunities): replay equals the reference, as of its end."""
    log = tmp_path / "crm.jsonl"
    result = runner.invoke(app, ["import-crm", str(CRM_EXPORT), "--out", str(log)])
    assert result.exit_code == 0, result.output
    lines = log.read_bytes().splitlines()
    out = replay_json(log)
    assert out["rejected"] == []
    assert len({s["rep_id"] for s in out["scorecards"]}) >= 20
    assert_matches_reference(out, lines, WINDOWS)


def test_crm_open_pipeline_mid_2017_is_the_list_price_of_engaged_unclosed_deals(
    tmp_path: Path,
) -> None:
    """Each agent's open pipeline as of 2017-06-30 is the sum of the list prices of the
    opportunities engaged by then and not closed by then, computed here from the CSV files
    alone (with the export's GTXPro spelling of GTX Pro), in every window."""
    as_of = date(2017, 6, 30)

    def day(text: str) -> date:
        return datetime.strptime(text, "%m/%d/%Y").date()

    with (CRM_EXPORT / "products.csv").open(newline="") as file:
        price = {row["product"]: float(row["sales_price"]) for row in csv.DictReader(file)}
    price["GTXPro"] = price["GTX Pro"]
    expected: dict[str, float] = defaultdict(float)
    engaged_open = 0
    with (CRM_EXPORT / "sales_pipeline.csv").open(newline="") as file:
        for row in csv.DictReader(file):
            engaged = row["engage_date"] and day(row["engage_date"]) <= as_of
            closed = row["close_date"] and day(row["close_date"]) <= as_of
            if engaged and not closed:
                expected[rep_id_of(row["sales_agent"])] += price[row["product"]]
                engaged_open += 1

    log = tmp_path / "crm.jsonl"
    result = runner.invoke(app, ["import-crm", str(CRM_EXPORT), "--out", str(log)])
    assert result.exit_code == 0, result.output
    out = replay_json(log, "--as-of", as_of.isoformat())
    assert out["as_of"] == "2017-06-30" and out["rejected"] == []
    got: dict[str, set[float]] = defaultdict(set)
    deals: dict[str, int] = {}
    for card in out["scorecards"]:
        got[card["rep_id"]].add(round(card["kpis"]["open_pipeline"]["value"], 6))
        deals[card["rep_id"]] = card["kpis"]["open_pipeline"]["samples"]
    assert set(expected) <= set(got) and len(expected) >= 25
    assert {rep: values.pop() for rep, values in got.items() if len(values) == 1} == {
        rep: round(expected.get(rep, 0.0), 6) for rep in got
    }
    assert sum(deals.values()) == engaged_open > 500
