"""``scorestream scorecard check``: validate a definition and show it as people read it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from schemas.scorecard_definition import AbsoluteTarget, KpiDef, PerDayTarget
from streams.cli import definition_or_exit

app = typer.Typer(help="Scorecard definitions (scorecard as code).", no_args_is_help=True)


def _target_text(kpi: KpiDef) -> str:
    if isinstance(kpi.target, PerDayTarget):
        return f"{kpi.target.per_day:g} per day"
    if isinstance(kpi.target, AbsoluteTarget):
        return f"{kpi.target.absolute:g}"
    return f"{kpi.target.quota:g} x quota"


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="Scorecard definition (YAML).")],
    json: Annotated[
        bool, typer.Option("--json", help="Print the validated definition as JSON.")
    ] = False,
) -> None:
    """Validate FILE; print its perspectives, KPIs and alert rules, or every error with its fix."""
    definition = definition_or_exit(file)
    if json:
        typer.echo(orjson.dumps(definition.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
        return
    console = Console()
    console.print(
        f"[bold]{definition.name}[/bold]  zone {definition.timezone}, currency"
        f" {definition.currency}, windows {', '.join(definition.windows)},"
        f" lateness {definition.allowed_lateness_days} d,"
        f" default quota {definition.default_monthly_quota:g}/month"
    )
    total_p = sum(p.weight for p in definition.perspectives.values())
    kpis = Table(title="KPIs", title_justify="left")
    for col in ("perspective", "weight", "kpi", "in persp.", "better", "target", "cap", "min n"):
        kpis.add_column(col, no_wrap=col in ("perspective", "kpi"))
    for p_name, p_def in definition.perspectives.items():
        members = {n: k for n, k in definition.kpis.items() if k.perspective == p_name}
        total_k = sum(k.weight for k in members.values())
        for i, (name, kpi) in enumerate(members.items()):
            kpis.add_row(
                p_name.value if i == 0 else "",
                f"{p_def.weight / total_p:.0%}" if i == 0 else "",
                name.value,
                f"{kpi.weight / total_k:.0%}",
                kpi.direction.value,
                _target_text(kpi),
                f"{kpi.cap:g}",
                str(kpi.min_samples),
            )
    console.print(kpis)
    stages = Table(title="Stage probabilities (forecast)", title_justify="left")
    stages.add_column("stage")
    stages.add_column("chance won", justify="right")
    for stage, chance in definition.stage_probabilities.items():
        stages.add_row(stage, f"{chance:.0%}")
    stages.add_row("(any other)", f"{definition.default_stage_probability:.0%}")
    console.print(stages)
    rules = Table(title="Coaching alerts", title_justify="left")
    for col in ("rule", "kind", "severity", "condition", "cooldown"):
        rules.add_column(col)
    for rule_id, rule in definition.alerts.items():
        condition = ", ".join(
            f"{k}={v}"
            for k, v in rule.model_dump(mode="json").items()
            if k not in ("kind", "severity", "text", "cooldown_days") and v is not None
        )
        rules.add_row(rule_id, rule.kind, rule.severity.value, condition, f"{rule.cooldown_days} d")
    console.print(rules)
    console.print("[green]valid[/green]")
