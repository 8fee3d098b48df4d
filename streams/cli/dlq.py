"""``scorestream dlq stats|redrive``: count dead letters by reason, send fixed ones back once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from schemas.dead_letter import Reason
from streams.admin.dead_letters import DlqStats, RedriveReport, dlq_stats, redrive
from streams.cli import fail, load_settings
from streams.runtime.exceptions import StreamsError

app = typer.Typer(help="Dead letters (crm.dlq): what was refused, and sending it back.")


@app.command("stats")
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Count the dead letters in crm.dlq by reason and by the topic they came from."""
    settings = load_settings()
    try:
        counted = dlq_stats(settings)
    except StreamsError as exc:
        fail(str(exc), code=2)
    if as_json:
        typer.echo(orjson.dumps(counted.to_dict()).decode())
    else:
        Console().print(_stats_table(counted))


@app.command("redrive")
def redrive_command(
    reason: Annotated[Reason, typer.Option(help="Send back the dead letters of this reason.")],
    since: Annotated[
        str | None,
        typer.Option(help="Only those that failed at or after this time (ISO 8601, or a day)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Re-produce dead letters' original bytes and key to their original topic, once.

    Fix the cause first (add the missing FX rate, say). What was sent is recorded in
    crm.dlq.redriven, so running this again sends nothing twice.
    """
    settings = load_settings()
    after = _time_or_exit(since)
    err = Console(stderr=True)

    def progress(report: RedriveReport) -> None:
        err.print(f"sent {sum(report.sent.values()):,} ...")

    try:
        report = redrive(settings, reason, after, progress)
    except StreamsError as exc:
        fail(str(exc), code=2)
    if as_json:
        typer.echo(orjson.dumps({"reason": reason.value, **report.to_dict()}).decode())
        return
    sent = sum(report.sent.values())
    per_topic = ", ".join(f"{t} {n:,}" for t, n in sorted(report.sent.items())) or "nothing"
    typer.echo(f"redrove {sent:,} dead letters of reason {reason.value} ({per_topic})")
    typer.echo(
        f"{report.already_sent:,} were sent back before; {report.older:,} failed before --since"
    )


def _time_or_exit(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {text!r}: expected an ISO 8601 time or day, e.g. 2026-11-27", code=2)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _stats_table(counted: DlqStats) -> Table:
    table = Table(title=f"Dead letters in crm.dlq: {counted.total:,}", title_justify="left")
    table.add_column("reason")
    table.add_column("from topic")
    table.add_column("count", justify="right")
    for (reason, topic), n in sorted(counted.by_reason_and_topic.items()):
        table.add_row(reason, topic, f"{n:,}")
    if counted.unreadable:
        table.add_row("(unreadable)", "", f"{counted.unreadable:,}")
    if not counted.total:
        table.caption = "no dead letters"
    elif counted.repeated:
        table.caption = (
            f"{counted.repeated:,} more records repeat a message above (dead-lettered again"
            " when redelivered after a crash): each message is counted once"
        )
    return table
