"""``scorestream scorecard``: check a definition, publish it as a version, see the versions.

``check`` validates a file. ``publish`` writes it to ``scorecards.definitions`` as the next
version, which the workers put in force within seconds (``streams.admin.definitions_topic``);
``history`` and ``show`` read the versions back; ``diff`` (``streams.cli.scorecard_diff``)
shows what a definition would change before it is published.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from schemas import topics
from schemas.definition_version import DefinitionVersion
from schemas.scorecard_definition import AbsoluteTarget, KpiDef, PerDayTarget, ScorecardDefinition
from scorers.definition_changes import DefinitionChange, changes
from streams.admin.definitions_topic import Read, publish, read_versions
from streams.cli import definition_or_exit, fail, load_settings, publisher, scorecard_diff
from streams.runtime.exceptions import StreamsError, VersionRefused

app = typer.Typer(help="Scorecard definitions (scorecard as code) and their versions.",
                  no_args_is_help=True)  # fmt: skip
app.command("diff")(scorecard_diff.diff)

AsJson = Annotated[bool, typer.Option("--json", help="One JSON document instead of tables.")]


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
    console.print(definition_view(definition))
    console.print("[green]valid[/green]")


@app.command("publish")
def publish_command(
    file: Annotated[Path, typer.Argument(help="Scorecard definition (YAML).")],
    note: Annotated[str, typer.Option(help="Why: what the version changes, for people.")] = "",
    by: Annotated[
        str | None, typer.Option(help="Who publishes it [default: the user name].")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Publish FILE as the next version: the workers put it in force within seconds.

    FILE is checked like `scorecard check`; a version the workers could not score exactly
    from the state they keep (another time zone or currency, a changed FX rate, more days
    of history than they keep) is refused with the reason.
    """
    definition = definition_or_exit(file)
    settings = load_settings()
    try:
        done = publish(settings, definition, note=note, published_by=publisher(by))
    except VersionRefused as exc:
        fail(f"{file} refused: {exc}", code=1)
    except StreamsError as exc:
        fail(str(exc), code=2)
    in_force = done.before.versions.in_force
    shown = done.version or in_force
    assert shown is not None, "nothing written: the same content is in force"
    moved = [] if in_force is None else changes(in_force.definition, definition)
    kept = done.before.versions.kept_days
    document: dict[str, Any] = {
        "status": "unchanged" if done.version is None else "published",
        "version": shown.version,
        "replaces": None if in_force is None or done.version is None else in_force.version,
        "changes": [c.to_dict() for c in moved],
        # The workers keep the most days any version in force needed: it never shrinks.
        "kept_days": {
            "before": None if in_force is None else kept,
            "after": max(kept, definition.kept_days()),
        },
    }
    if as_json:
        typer.echo(orjson.dumps(document).decode())
        return
    console = Console()
    if done.version is None:
        console.print(
            f"unchanged: {file} is version {document['version']} in force; nothing published"
        )
        return
    replaces = f", replacing version {in_force.version}" if in_force is not None else ""
    console.print(
        f"[green]published version {done.version.version}[/green]{replaces}"
        f" (digest {done.version.digest[:12]}, by {done.version.published_by})",
        highlight=False,
    )
    console.print(_changes_view(moved), highlight=False)


@app.command()
def history(as_json: AsJson = False) -> None:
    """Every published version, oldest first: which is in force, who published each, why,
    and what it changed."""
    read = _read_or_exit()
    rows = [read.versions.summary(v) for v in read.versions.published]
    if as_json:
        typer.echo(orjson.dumps({"versions": rows, "unreadable": read.versions.unreadable}))
        return
    table = Table(title=f"Scorecard versions on {topics.DEFINITIONS}", title_justify="left")
    for column in ("version", "status", "published", "by", "note", "digest", "changes"):
        table.add_column(
            column,
            justify="right" if column == "version" else "left",
            no_wrap=column in ("status", "published", "digest"),
        )
    for row in rows:
        status = row["status"] + (f": {row['reason']}" if row["reason"] else "")
        moved = row["changes"]
        table.add_row(
            str(row["version"]),
            Text(status, style="bold green" if row["status"] == "in force" else ""),
            row["published_at"][:16].replace("T", " "),
            row["published_by"],
            row["note"],
            row["digest"][:12],
            "first" if moved is None else _kinds(moved),
        )
    console = Console()
    console.print(table if rows else "no versions yet: the first worker seeds version 1")
    for problem in read.versions.unreadable:
        console.print(f"[red]unreadable record[/red] {problem}", highlight=False)


@app.command()
def show(
    version: Annotated[
        int | None, typer.Option(help="This version [default: the one in force].")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Print one version: who published it, when and why, and the definition itself."""
    read = _read_or_exit()
    wanted = version if version is not None else _in_force_or_exit(read).version
    chosen = read.versions.find(wanted)
    if chosen is None:
        fail(f"no version {wanted} on {topics.DEFINITIONS} (latest: {read.versions.latest})",
             code=1)  # fmt: skip
    summary = read.versions.summary(chosen)
    if as_json:
        body = {**summary, "definition": chosen.definition.model_dump(mode="json")}
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    console = Console()
    status = summary["status"] + (f" ({summary['reason']})" if summary["reason"] else "")
    console.print(
        f"[bold]version {chosen.version}[/bold] ({status}), published {summary['published_at']}"
        f" by {chosen.published_by}, digest {chosen.digest[:12]}",
        highlight=False,
    )
    if chosen.note:
        console.print(f"note: {chosen.note}", highlight=False)
    console.print(definition_view(chosen.definition))


def _read_or_exit() -> Read:
    settings = load_settings()
    try:
        return read_versions(settings)
    except StreamsError as exc:
        fail(str(exc), code=2)


def _in_force_or_exit(read: Read) -> DefinitionVersion:
    if read.versions.in_force is None:
        fail(f"no version on {topics.DEFINITIONS} yet: publish one with"
             " `scorestream scorecard publish FILE` (or start a worker)", code=1)  # fmt: skip
    return read.versions.in_force


def _kinds(moved: list[dict[str, Any]]) -> str:
    """Changes counted by kind: ``weight 3, target 1``."""
    counts = Counter(c["kind"] for c in moved)
    return ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in counts.items()) or "none"


def _changes_view(moved: list[DefinitionChange]) -> str:
    if not moved:
        return "no change in content"
    return "\n".join(f"  {c.text()}" for c in moved)


def _target_text(kpi: KpiDef) -> str:
    if isinstance(kpi.target, PerDayTarget):
        return f"{kpi.target.per_day:g} per day"
    if isinstance(kpi.target, AbsoluteTarget):
        return f"{kpi.target.absolute:g}"
    return f"{kpi.target.quota:g} x quota"


def definition_view(definition: ScorecardDefinition) -> Group:
    """A definition as people read it: a summary line, its KPIs and its alert rules."""
    kept = f"keeps {definition.kept_days()} d"
    heading = Text(
        f"{definition.name}  zone {definition.timezone}, currency {definition.currency},"
        f" windows {', '.join(definition.windows)}, lateness"
        f" {definition.allowed_lateness_days} d, {kept}, default quota"
        f" {definition.default_monthly_quota:g}/month"
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
    stages = Table(title="Stage probabilities (forecast)", title_justify="left")
    stages.add_column("stage")
    stages.add_column("chance won", justify="right")
    for stage, chance in definition.stage_probabilities.items():
        stages.add_row(stage, f"{chance:.0%}")
    stages.add_row("(any other)", f"{definition.default_stage_probability:.0%}")
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
    return Group(heading, kpis, stages, rules)
