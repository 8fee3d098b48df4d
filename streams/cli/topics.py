"""``scorestream topics``: create the topics, watch the traffic on them.

Rendering only; the Kafka work is in ``streams.admin.topic_admin`` and
``streams.admin.topic_watch``. Every command has a ``--json`` form for scripts and CI.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from schemas import topics
from streams.admin.topic_admin import ProvisionReport, create_topics
from streams.admin.topic_watch import TopicWatcher, WatchSnapshot
from streams.cli import fail, load_settings
from streams.runtime.exceptions import StreamsError

app = typer.Typer(help="Create and watch the Kafka topics.", no_args_is_help=True)

_console = Console()
_errors = Console(stderr=True)


def _json_line(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, separators=(",", ":")))


@app.command("create")
def create(
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            "-p",
            min=1,
            help="Partitions per topic [default: SCORESTREAM_PARTITIONS, 6]",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object instead of a table.")
    ] = False,
) -> None:
    """Create every Scorestream topic that is missing; existing ones are reported, never changed."""
    settings = load_settings()
    count = partitions if partitions is not None else settings.partitions
    try:
        report = create_topics(settings, count)
    except StreamsError as exc:
        # Plain text: rich would wrap it at 80 columns and read brackets in it as markup.
        fail(str(exc), code=1)
    if as_json:
        _json_line(report.to_dict())
    else:
        _console.print(_report_table(report))
        for outcome in report.mismatched:
            _errors.print(
                f"[yellow]warning:[/yellow] {outcome.name} has {outcome.partitions} partitions,"
                f" expected {outcome.expected_partitions}: co-partitioning by rep_id is broken;"
                " delete and re-create the activity topics with one count"
            )
        for outcome in report.drifted:
            for key, (wanted, actual) in outcome.config_drift.items():
                _errors.print(
                    f"[yellow]warning:[/yellow] {outcome.name} has {key}={actual},"
                    f" expected {wanted}"
                )
    if not report.ok:
        raise typer.Exit(3)


def _report_table(report: ProvisionReport) -> Table:
    table = Table(title=f"Topics on {report.bootstrap}")
    table.add_column("topic")
    table.add_column("status")
    table.add_column("partitions", justify="right")
    table.add_column("config")
    for outcome in report.topics:
        status = "[green]created[/green]" if outcome.status == "created" else "exists"
        partitions = str(outcome.partitions)
        if outcome.partition_mismatch:
            partitions = f"[red]{outcome.partitions} (want {outcome.expected_partitions})[/red]"
        config = ", ".join(f"{k}={v}" for k, v in outcome.config.items())
        table.add_row(outcome.name, status, partitions, config)
    return table


@app.command("watch")
def watch(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per second instead of a live table.")
    ] = False,
    prefix: Annotated[
        str, typer.Option(help="Watch topics whose name starts with this.")
    ] = topics.named("crm."),
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes.")] = 1.0,
) -> None:
    """Live messages per topic and rate on the crm.* topics, until Ctrl-C. Joins no group."""
    settings = load_settings()
    try:
        with TopicWatcher(settings, prefix) as watcher:
            if not watcher.topics:
                _errors.print(
                    f"[yellow]no topics start with {prefix!r} yet;"
                    " run `scorestream topics create` (watching for new ones)[/yellow]"
                )
            if as_json:
                while True:
                    _json_line(watcher.poll_for(interval).to_dict())
            else:
                with Live(_watch_table(None), console=_console, auto_refresh=False) as live:
                    while True:
                        live.update(_watch_table(watcher.poll_for(interval)), refresh=True)
    except KeyboardInterrupt:
        pass
    except StreamsError as exc:
        fail(str(exc), code=1)


def _watch_table(snapshot: WatchSnapshot | None) -> Table:
    if snapshot is None:
        return Table(title="waiting for the first interval...")
    table = Table(title=f"Messages since start ({snapshot.elapsed_s:.0f}s), Ctrl-C to stop")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("messages", justify="right")
    table.add_column("msg/s now", justify="right")
    table.add_column("msg/s avg", justify="right")
    for rate in snapshot.topics:
        table.add_row(
            rate.topic,
            str(rate.partitions),
            f"{rate.total:,}",
            f"{rate.per_second:,.1f}",
            f"{rate.avg_per_second:,.1f}",
        )
    table.add_section()
    table.add_row("total", "", f"{snapshot.total:,}", f"{snapshot.per_second:,.1f}", "")
    return table
