"""``scorestream replay`` as users call it: JSON for programs, tables for people, clear errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from streams.cli.main import app

LOG = [
    b'{"event_id":"u1","event_type":"rep_upserted","occurred_at":"2026-03-01T08:00:00+00:00",'
    b'"rep_id":"ana","name":"Ana","team_id":"north","monthly_quota":30000}',
    b'{"event_id":"w1","event_type":"deal_won","occurred_at":"2026-03-09T17:00:00+01:00",'
    b'"rep_id":"ana","deal_id":"d1","amount":5000,"opened_at":"2026-02-20T09:00:00+01:00"}',
    b"",
    b"{not json",
    b'{"event_id":"c1","event_type":"call_logged","occurred_at":"2026-03-10T23:30:00-05:00",'
    b'"rep_id":"bob","team_id":"north","call_id":"c","duration_seconds":12,"outcome":"connected"}',
    b'{"event_id":"w1","event_type":"deal_won","occurred_at":"2026-03-09T17:00:00+01:00",'
    b'"rep_id":"ana","deal_id":"d1","amount":5000,"opened_at":"2026-02-20T09:00:00+01:00"}',
    b'{"event_id":"x1","event_type":"deal_won","occurred_at":"2026-03-09T17:00:00+01:00",'
    b'"rep_id":"ana","deal_id":"d9","amount":5,"currency":"JPY","opened_at":"2026-02-20T09:00:00Z"}',
    b'{"event_id":"old","event_type":"call_logged","occurred_at":"2025-06-01T10:00:00+00:00",'
    b'"rep_id":"ana","call_id":"c0","duration_seconds":12,"outcome":"connected"}',
]


@pytest.fixture(name="log_file")
def fixture_log_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(LOG) + b"\n")
    return path


runner = CliRunner()


def test_json_output_has_the_exact_contract(log_file: Path) -> None:
    """Top-level keys, one scorecard per rep and window, teams without rep_id, counters."""
    result = runner.invoke(app, ["replay", str(log_file), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert list(out) == ["as_of", "scorecards", "teams", "rejected", "duplicates", "out_of_range"]
    assert out["as_of"] == "2026-03-11"  # bob's call is 04:30 UTC on the 11th
    assert {(s["rep_id"], s["window"]) for s in out["scorecards"]} == {
        (rep, w) for rep in ("ana", "bob") for w in ("7d", "30d", "90d", "quarter")
    }
    card = out["scorecards"][0]
    assert set(card) == {
        *("rep_id", "team_id", "window", "as_of", "overall", "overall_uncapped"),
        *("definition_version", "perspectives", "kpis"),
    }
    assert card["definition_version"] is None  # scored from a file, not a published version
    assert set(card["kpis"]["revenue_won"]) == {
        "value",
        "target",
        "attainment",
        "samples",
        "contribution",
    }
    assert all("rep_id" not in t for t in out["teams"])
    assert {t["team_id"] for t in out["teams"]} == {"north"}
    assert out["rejected"][0] == {
        "line": 4,
        "reason": "invalid_json",
        "detail": out["rejected"][0]["detail"],
    }
    assert "not valid JSON" in out["rejected"][0]["detail"]
    assert (
        out["rejected"][1]["line"] == 7
        and out["rejected"][1]["reason"] == "unknown_currency"
        and "no FX rate for 'JPY'" in out["rejected"][1]["detail"]
    )
    assert out["duplicates"] == 1
    assert out["out_of_range"] == 1  # the June 2025 call is outside every window


def test_as_of_and_window_options(log_file: Path) -> None:
    """--as-of scores an earlier day (later events do not count); --window picks windows."""
    result = runner.invoke(
        app, ["replay", str(log_file), "--format", "json", "--as-of", "2026-03-09", "-w", "7d"]
    )
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert out["as_of"] == "2026-03-09"
    assert {(s["rep_id"], s["window"]) for s in out["scorecards"]} == {("ana", "7d")}
    assert out["scorecards"][0]["kpis"]["revenue_won"]["value"] == 5000.0
    assert out["out_of_range"] == 3  # the directory entry (before 7d), the old call, bob after T


def test_table_output_is_a_leaderboard_per_window(log_file: Path) -> None:
    """People get ranked tables with the four perspectives and a summary of what was skipped."""
    result = runner.invoke(app, ["replay", str(log_file), "-w", "30d"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Leaderboard 30d as of 2026-03-11" in result.stdout
    assert "Teams 30d as of 2026-03-11" in result.stdout
    assert "learning growth" in result.stdout
    assert result.stdout.index("ana") < result.stdout.index("bob")  # ana has revenue: ranks first
    assert "2 rejected, 1 duplicates, 1 out of range" in result.stderr
    assert "line 4: invalid_json: not valid JSON" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "yesterday"], "--as-of 'yesterday': expected a day as YYYY-MM-DD"),
        (["--window", "fortnight"], "--window 'fortnight': use Nd"),
        (["--scorecard", "/nonexistent.yaml"], "cannot read scorecard /nonexistent.yaml"),
    ],
)
def test_bad_options_fail_with_the_fix(log_file: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["replay", str(log_file), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_scorecard_check_validates_and_reports(tmp_path: Path) -> None:
    """`scorecard check` prints the definition for a good file and each error for a bad one."""
    good = runner.invoke(app, ["scorecard", "check", "schemas/default_scorecard.yaml"])
    assert good.exit_code == 0 and "valid" in good.stdout and "nps_negative" in good.stdout
    assert "pipeline_thin" in good.stdout and "negotiation" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ndefault_monthly_quota: 1\nperspectives: {financial: {weight: 1}}\n"
        "kpis: {revenue_won: {perspective: financial, weight: 1, target: {per_dy: 1}}}\n"
    )
    result = runner.invoke(app, ["scorecard", "check", str(bad)])
    assert result.exit_code == 2
    assert (
        "kpis.revenue_won.target: give exactly one of per_day, absolute or quota" in result.stderr
    )


def test_schemas_export_writes_every_contract(tmp_path: Path) -> None:
    """Downstream consumers get a JSON Schema per event type and for the scorecard definition."""
    result = runner.invoke(app, ["schemas", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {
        "crm-event.schema.json",
        "deal-won.schema.json",
        "deal-opened.schema.json",
        "deal-stage-changed.schema.json",
        "scorecard-definition.schema.json",
        "definition-version.schema.json",
    } <= names
    union = orjson.loads((tmp_path / "out" / "crm-event.schema.json").read_bytes())
    assert union["discriminator"]["propertyName"] == "event_type"
    assert {"deal_opened", "deal_stage_changed"} <= set(union["discriminator"]["mapping"])
    opened = orjson.loads((tmp_path / "out" / "deal-opened.schema.json").read_bytes())
    assert opened["required"] == ["event_id", "occurred_at", "rep_id", "deal_id", "amount"]
    definition = orjson.loads((tmp_path / "out" / "scorecard-definition.schema.json").read_bytes())
    kpi_names = definition["$defs"]["KpiName"]["enum"]
    assert {"open_pipeline", "pipeline_coverage", "forecast_attainment"} <= set(kpi_names)
