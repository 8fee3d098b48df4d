"""Scorecard definitions: the shipped default is valid; a wrong file names the field and fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from schemas.definition_version import DefinitionVersion, VersionError, digest_of, parse_version
from schemas.scorecard_definition import (
    DefinitionError,
    ScorecardDefinition,
    load_definition,
    parse_definition,
)
from tests.paths import REPO_ROOT

DEFAULT = REPO_ROOT / "schemas" / "default_scorecard.yaml"


@pytest.fixture(name="raw")
def fixture_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT.read_text())
    return data


def test_default_is_valid_and_balanced() -> None:
    """The shipped scorecard has all four perspectives and the five default alert rules."""
    definition = load_definition()
    assert set(definition.perspectives) == {
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    }
    assert definition.windows == ["7d", "30d", "90d", "quarter"]
    assert set(definition.alerts) >= {
        "nps_negative",
        "score_drop",
        "no_calls",
        "target_hit",
        "behind_pace",
        "pipeline_thin",
    }
    assert {"open_pipeline", "pipeline_coverage", "forecast_attainment"} <= set(definition.kpis)
    assert definition.stage_probabilities["negotiation"] == 0.7
    assert definition.default_stage_probability == 0.1


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["timezone"], "Mars/Olympus", "timezone: unknown time zone 'Mars/Olympus'"),
        (["windows"], ["7d", "fortnight"], "windows.1: 'fortnight' is not a window"),
        (["windows"], ["7d", "7d"], "windows: windows repeat a name"),
        (
            ["perspectives", "financial", "weight"],
            0,
            "perspectives.financial.weight: Input should be greater than 0",
        ),
        (
            ["kpis", "nps", "perspective"],
            "happiness",
            "kpis.nps.perspective: 'happiness' is not allowed",
        ),
        (
            ["kpis", "nps", "target"],
            {"per_dy": 3},
            "kpis.nps.target: give exactly one of per_day, absolute or quota",
        ),
        (
            ["kpis", "nps", "target"],
            {"per_day": -2},
            "kpis.nps.target.per_day: Input should be greater than 0",
        ),
        (["kpis", "nps", "cap"], 0.5, "kpis.nps.cap: Input should be greater than or equal to 1"),
        (["kpis", "nps", "weight_"], 1, "kpis.nps.weight_: unknown field"),
        (
            ["kpis", "speed_of_light"],
            {"perspective": "financial", "weight": 1, "target": {"absolute": 1}},
            "kpis.speed_of_light",
        ),
        (
            ["alerts", "no_calls", "days"],
            0,
            "alerts.no_calls.days: Input should be greater than or equal to 1",
        ),
        (["alerts", "nps_negative", "above"], 5, "exactly one of 'below' or 'above'"),
        (
            ["alerts", "nps_negative", "window"],
            "45d",
            "alerts.nps_negative.window: '45d' is not one of windows",
        ),
        (["fx_rates", "USD"], 1.0, "fx_rates.USD: is the reporting currency"),
        (
            ["alerts", "pipeline_thin", "window"],
            "30d",
            "from_day: a rolling window '30d' has no day of the period",
        ),
        (
            ["alerts", "no_calls", "kpi"],
            "pipeline_coverage",
            "alerts.no_calls.kpi: pipeline_coverage is a point-in-time KPI",
        ),
        (
            ["alerts", "behind_pace", "kpi"],
            "open_pipeline",
            "a pace rule needs an activity KPI. Use a threshold rule for it",
        ),
        (
            ["stage_probabilities", "proposal"],
            1.5,
            "stage_probabilities.proposal: Input should be less than or equal to 1",
        ),
        (
            ["default_stage_probability"],
            -0.1,
            "default_stage_probability: Input should be greater than or equal to 0",
        ),
        (["currency"], "dollar", "currency: 'dollar' is not a currency code"),
    ],
)
def test_wrong_field_is_named_with_the_fix(
    raw: dict[str, Any], path: list[str], value: Any, expected: str
) -> None:
    """Each mistake fails at load with the field's path and what would be right."""
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(DefinitionError, match=expected):
        parse_definition(raw, "team.yaml")


def test_perspective_without_kpis_is_refused(raw: dict[str, Any]) -> None:
    """A weighted perspective with no KPI would silently score nothing: refuse it."""
    raw["kpis"] = {k: v for k, v in raw["kpis"].items() if v["perspective"] != "customer"}
    with pytest.raises(DefinitionError, match="perspectives.customer: has a weight but no KPI"):
        parse_definition(raw)


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    """A missing file or broken YAML is an error that names the file."""
    with pytest.raises(DefinitionError, match="cannot read scorecard"):
        load_definition(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(DefinitionError, match="broken.yaml is not valid YAML"):
        load_definition(broken)


def test_fx_rate_lookup() -> None:
    definition: ScorecardDefinition = load_definition()
    assert definition.rate_to_reporting("USD") == 1.0
    assert definition.rate_to_reporting("EUR") == pytest.approx(1.08)
    assert definition.rate_to_reporting("JPY") is None


def test_a_version_record_round_trips_and_a_bad_one_says_why() -> None:
    """The topic's record: key = the version number; the digest ignores comments, key order
    and fields left at their defaults."""
    definition = load_definition()
    at = datetime(2026, 5, 1, 9, tzinfo=UTC)
    version = DefinitionVersion.of(3, definition, note="n", published_by="ops", published_at=at)
    assert version.key == b"3"
    assert parse_version(b"3", version.to_bytes()) == version
    explicit = parse_definition({**definition.model_dump(mode="json"), "max_future_days": 1.0})
    assert digest_of(explicit) == version.digest
    assert digest_of(explicit.model_copy(update={"max_future_days": 2.0})) != version.digest
    with pytest.raises(VersionError, match=r"key b'4' is not the record's version 3"):
        parse_version(b"4", version.to_bytes())
    with pytest.raises(VersionError, match=r"key b'3': a tombstone"):
        parse_version(b"3", None)
    broken = orjson.loads(version.to_bytes())
    broken["definition"]["kpis"]["nps"]["weight"] = -1
    with pytest.raises(VersionError, match=r"not a definition version this worker can read"
                       r" \(1 errors; definition\.kpis\.nps\.weight: "):  # fmt: skip
        parse_version(b"3", orjson.dumps(broken))


def test_reaches_and_kept_days() -> None:
    """What each window and rule reaches back, and the days kept: the longest + lateness."""
    definition = load_definition()
    assert definition.reaches()["windows.quarter"] == 92
    assert definition.reaches()["alerts.score_drop"] == 30 + 7
    assert definition.reaches()["alerts.no_calls"] == 3 * 2 + 7
    assert definition.history_days() == 92
    assert definition.kept_days() == 99
    assert definition.model_copy(update={"keep_history_days": 400}).kept_days() == 400
