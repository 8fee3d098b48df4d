"""What changed between two definitions, as people read it: kinds, paths and texts by hand."""

from __future__ import annotations

from schemas.scorecard_definition import load_definition, parse_definition
from scorers.definition_changes import changes

DEFAULT = load_definition()


def test_every_kind_of_change_with_its_path_and_text() -> None:
    data = DEFAULT.model_dump(mode="json")
    data["perspectives"]["financial"]["weight"] = 0.5
    data["kpis"]["deals_won"]["target"] = {"absolute": 6}
    data["kpis"]["nps"]["cap"] = 1.5
    del data["kpis"]["training_hours"]
    data["windows"] = ["7d", "30d", "60d"]
    data["fx_rates"]["JPY"] = 0.0067
    del data["alerts"]["no_calls"]
    new = parse_definition(data)
    assert [(c.kind, c.text()) for c in changes(DEFAULT, new)] == [
        ("weight", "perspectives.financial.weight: 0.35 -> 0.5"),
        ("target", "kpis.deals_won.target: 0.25 per day -> 6"),
        ("kpi_removed", "kpis.training_hours: removed (was learning_growth, weight 0.5,"
                        " target 0.25 per day)"),
        ("window_added", "windows.60d: added (60d)"),
        ("window_removed", "windows.90d: removed (was 90d)"),
        ("window_removed", "windows.quarter: removed (was quarter)"),
        ("other", "alerts.no_calls: removed (was inactivity rule)"),
        ("other", "fx_rates.JPY: added (0.0067)"),
        ("other", "kpis.nps.cap: 1.2 -> 1.5"),
    ]  # fmt: skip
    back = [(c.kind, c.path) for c in changes(new, DEFAULT)]
    assert ("kpi_added", "kpis.training_hours") in back
    assert ("window_added", "windows.quarter") in back


def test_the_same_definition_and_reordered_windows() -> None:
    assert changes(DEFAULT, DEFAULT) == []
    data = DEFAULT.model_dump(mode="json")
    data["windows"] = list(reversed(data["windows"]))
    (moved,) = changes(DEFAULT, parse_definition(data))
    assert (moved.kind, moved.path, moved.to_dict()["text"]) == (
        "other", "windows", "windows: 7d, 30d, 90d, quarter -> quarter, 90d, 30d, 7d"
    )  # fmt: skip
