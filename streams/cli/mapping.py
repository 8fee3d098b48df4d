"""``scorestream mapping``: check a CRM mapping, and try it on a payload before it goes live.

A mapping (``schemas.mapping``) says how a CRM's webhook payloads become our events; the
gateway serves it at ``POST /v1/hooks/{source}``. ``try`` runs the gateway's own code on a
saved payload (JSON, or a Salesforce Outbound Message's XML) and prints the events it makes
and every record it refuses, with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from schemas.events import RepUpserted, event_to_json
from schemas.mapping import Mapping, MappingError, load_mapping, load_preset
from scorers.ingest import salesforce
from scorers.ingest.directory import OwnerDirectory
from scorers.ingest.mapping import apply_mapping
from streams.cli import fail

app = typer.Typer(help="CRM mappings of the ingest gateway's hooks.", no_args_is_help=True)

MappingFile = Annotated[
    str, typer.Argument(help="Mapping (YAML), or a preset's name: hubspot, salesforce.")
]


def _mapping_or_exit(name: str) -> Mapping:
    try:
        if not Path(name).exists() and name in ("hubspot", "salesforce"):
            return load_preset(name)
        return load_mapping(Path(name))
    except MappingError as exc:
        fail(str(exc), code=2)


@app.command()
def check(file: MappingFile) -> None:
    """Validate FILE: every expression, event and field; print each kind, or each error with
    its line and fix."""
    mapping = _mapping_or_exit(file)
    console = Console(highlight=False)
    console.print(f"[bold]{escape(mapping.source)}[/bold]: POST /v1/hooks/{escape(mapping.source)},"
                  f" auth {mapping.auth.scheme} ({escape(mapping.auth.secret_env)}),"
                  f" owners from crm_owner_ids.{escape(mapping.owner_namespace)}")  # fmt: skip
    for kind in mapping.kinds:
        console.print(f"  {kind.event:<20} when {escape(kind.when or 'always')}")
    console.print("[green]valid[/green]")


@app.command("try")
def try_(
    file: MappingFile,
    payload: Annotated[Path, typer.Argument(help="A saved webhook body (JSON or XML).")],
    owner: Annotated[
        list[str] | None,
        typer.Option(help="OWNER_ID=REP_ID: a rep directory entry to try with (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Print the events PAYLOAD becomes under FILE, and each record refused with why."""
    mapping = _mapping_or_exit(file)
    try:
        body = payload.read_bytes()
    except OSError as exc:
        fail(f"cannot read {payload}: {exc.strerror}", code=2)
    document = _document(body, payload)
    parsed = apply_mapping(mapping, document, _directory(mapping, owner or []))
    events = [orjson.loads(event_to_json(event)) for _, event in parsed.events]
    rejected = [r.model_dump(mode="json") for r in parsed.rejected]
    if as_json:
        typer.echo(
            orjson.dumps({"events": events, "rejected": rejected}, option=orjson.OPT_INDENT_2)
        )
        return
    console = Console(highlight=False)
    for (line, _), event in zip(parsed.events, events, strict=True):
        console.print(f"record {line}: [green]{event['event_type']}[/green]")
        console.print(escape(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode()))
    for r in parsed.rejected:
        console.print(f"record {r.line}: [red]refused[/red] ({r.reason.value})")
        for error in r.errors:
            console.print(f"  {escape(error)}")
    console.print(f"{len(events)} event(s), {len(rejected)} refused")


def _document(body: bytes, path: Path) -> Any:
    if body.lstrip().startswith(b"<"):
        try:
            return salesforce.outbound_records(body)
        except salesforce.NotOutboundMessage as exc:
            fail(f"{path}: {exc}", code=2)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}", code=2)


def _directory(mapping: Mapping, owners: list[str]) -> OwnerDirectory:
    directory = OwnerDirectory()
    for entry in owners:
        owner_id, sep, rep_id = entry.partition("=")
        if not sep or not owner_id or not rep_id:
            fail(f"--owner {entry!r}: give OWNER_ID=REP_ID, e.g. --owner 4711=rep-ada", code=2)
        directory.upsert(RepUpserted(
            event_id=f"try:{rep_id}", occurred_at="2000-01-01T00:00:00Z",  # type: ignore[arg-type]
            rep_id=rep_id, team_id="try", name=rep_id,
            crm_owner_ids={mapping.owner_namespace: owner_id},
        ))  # fmt: skip
    return directory
