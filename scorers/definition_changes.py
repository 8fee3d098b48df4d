"""What changed between two scorecard definitions, for people: weights, targets, KPIs,
windows and everything else, each change with its path in the YAML file.

``scorestream scorecard publish`` and ``diff`` print it, the web page's scorecard view
shows it for the version in force against the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from schemas.scorecard_definition import ScorecardDefinition

Kind = Literal[
    "weight", "target", "kpi_added", "kpi_removed", "window_added", "window_removed", "other"
]
KINDS: tuple[Kind, ...] = (
    "weight", "target", "kpi_added", "kpi_removed", "window_added", "window_removed", "other",
)  # fmt: skip
"""In the order a report lists them."""


@dataclass(frozen=True, slots=True)
class DefinitionChange:
    kind: Kind
    path: str
    """Where in the YAML file (``kpis.nps.weight``, ``windows``)."""
    old: Any
    new: Any
    """The values as JSON (None where the thing is absent on that side)."""

    def text(self) -> str:
        if self.old is None:
            return f"{self.path}: added ({_shown(self.new)})"
        if self.new is None:
            return f"{self.path}: removed (was {_shown(self.old)})"
        return f"{self.path}: {_shown(self.old)} -> {_shown(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "path": self.path, "old": self.old, "new": self.new,
            "text": self.text(),
        }  # fmt: skip


def changes(old: ScorecardDefinition, new: ScorecardDefinition) -> list[DefinitionChange]:
    """Every difference, weights first, then targets, KPIs, windows and the rest."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    out: list[DefinitionChange] = []
    for window in before["windows"]:
        if window not in after["windows"]:
            out.append(DefinitionChange("window_removed", f"windows.{window}", window, None))
    for window in after["windows"]:
        if window not in before["windows"]:
            out.append(DefinitionChange("window_added", f"windows.{window}", None, window))
    if not out and before["windows"] != after["windows"]:
        out.append(DefinitionChange("other", "windows", before["windows"], after["windows"]))
    for name in before["kpis"].keys() - after["kpis"].keys():
        out.append(DefinitionChange("kpi_removed", f"kpis.{name}", before["kpis"][name], None))
    for name in after["kpis"].keys() - before["kpis"].keys():
        out.append(DefinitionChange("kpi_added", f"kpis.{name}", None, after["kpis"][name]))
    for key in before.keys() | after.keys():
        if key == "windows":
            continue
        if key == "kpis":
            for name in before["kpis"].keys() & after["kpis"].keys():
                _leaves(f"kpis.{name}", before["kpis"][name], after["kpis"][name], out)
        else:
            _leaves(key, before.get(key), after.get(key), out)
    return sorted(out, key=lambda c: (KINDS.index(c.kind), c.path))


def _leaves(path: str, old: Any, new: Any, out: list[DefinitionChange]) -> None:
    """The changed values under ``path``; a target is one value, whatever its kind."""
    if old == new:
        return
    last = path.rsplit(".", 1)[-1]
    if isinstance(old, dict) and isinstance(new, dict) and last != "target":
        for key in sorted(old.keys() | new.keys()):
            _leaves(f"{path}.{key}", old.get(key), new.get(key), out)
        return
    kind: Kind = "weight" if last == "weight" else "target" if last == "target" else "other"
    out.append(DefinitionChange(kind, path, old, new))


def _shown(value: Any) -> str:
    """A value as the YAML's reader thinks of it: ``0.25 per day``, ``threshold rule``."""
    if isinstance(value, dict):
        if "kind" in value:
            return f"{value['kind']} rule"
        if "perspective" in value:
            return f"{value['perspective']}, weight {value['weight']:g}, target" + (
                f" {_shown(value['target'])}"
            )
        if "per_day" in value:
            return f"{value['per_day']:g} per day"
        if "absolute" in value:
            return f"{value['absolute']:g}"
        if "quota" in value:
            return f"{value['quota']:g} x quota"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
