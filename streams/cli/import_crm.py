"""``scorestream import-crm DIR``: the public CRM export as events, into Kafka or a JSONL file.

Conversion is in ``streams.sources.crm_import``, sending in ``streams.sources.publishing``. Rows
that cannot be converted are listed on stderr (file:line: reason) and in the
``--json`` summary; they never fail the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table

from streams.cli import load_settings
from streams.cli.progress import PublishProgress
from streams.runtime.exceptions import StreamsError
from streams.sources.crm_import import CrmImport, load_crm_export
from streams.sources.event_stats import EventStats
from streams.sources.publishing import Item, PublishResult, open_sink, publish

PROBLEMS_SHOWN: Final = 50


def import_crm(
    directory: Annotated[
        Path,
        typer.Argument(
            exists=True,
            file_okay=False,
            help="Folder with sales_pipeline.csv, sales_teams.csv and products.csv.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write JSON Lines to this file instead of Kafka."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout at the end.")
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Live progress on stderr.")
    ] = True,
    email_domain: Annotated[
        str | None,
        typer.Option(
            help="Give reps and managers e-mails <name>@DOMAIN (the export has none), so"
            " they can sign in to `serve` and managers see their teams."
        ),
    ] = None,
) -> None:
    """Import the CRM export (sales_pipeline.csv, sales_teams.csv, products.csv) as rep and
    deal events."""

    settings = load_settings()
    try:
        converted = load_crm_export(directory, email_domain)
        sink = open_sink(out, settings, client_id="scorestream-import-crm")
    except (StreamsError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _echo_problems(converted)

    view = PublishProgress("import-crm", float(len(converted.events)), enabled=progress)

    def on_progress(stats: EventStats, _: Item) -> None:
        view.update(stats.total, stats)

    with view:
        result = publish(converted.events, sink, on_progress=on_progress)
    _report(converted, result, as_json)


def _echo_problems(converted: CrmImport) -> None:
    for problem in converted.problems[:PROBLEMS_SHOWN]:
        typer.echo(f"skipped {problem}", err=True)
    if len(converted.problems) > PROBLEMS_SHOWN:
        more = len(converted.problems) - PROBLEMS_SHOWN
        typer.echo(f"... and {more} more skipped rows (all are in --json)", err=True)


def _report(converted: CrmImport, result: PublishResult, as_json: bool) -> None:
    payload: dict[str, Any] = {
        "rows": converted.rows,
        "open_deals": converted.open_deals,
        "prospecting_skipped": converted.prospecting,
        "problems": [
            {"file": p.file, "line": p.line, "reason": p.reason} for p in converted.problems
        ],
        **result.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(payload, separators=(",", ":")))
    else:
        table = Table(title="import-crm")
        table.add_column("")
        table.add_column("count", justify="right")
        table.add_row("CSV rows", f"{converted.rows:,}")
        table.add_row("open deals (opened, not decided)", f"{converted.open_deals:,}")
        table.add_row("prospecting, no date (skipped)", f"{converted.prospecting:,}")
        table.add_row("rows with problems (skipped)", f"{len(converted.problems):,}")
        table.add_section()
        for event_type, count in payload["per_event_type"].items():
            table.add_row(event_type, f"{count:,}")
        table.add_row("destination", json.dumps(payload["destination"]))
        Console().print(table)
    if not result.ok:
        assert result.delivery is not None
        typer.echo(f"error: messages not delivered: {result.delivery.errors[:1]}", err=True)
        raise typer.Exit(1)
