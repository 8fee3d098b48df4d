"""``scorestream schemas export``: the contracts as JSON Schema for downstream consumers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import BaseModel, TypeAdapter

from schemas.dead_letter import DeadLetter
from schemas.definition_version import DefinitionVersion
from schemas.events import EVENT_MODELS, Event
from schemas.outputs import CoachingAlert, ScorecardUpdated
from schemas.scorecard_definition import ScorecardDefinition

app = typer.Typer(help="The published contracts.", no_args_is_help=True)


def contract_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of every contract we publish."""
    models: list[type[BaseModel]] = [
        *EVENT_MODELS, ScorecardDefinition, DefinitionVersion, DeadLetter, ScorecardUpdated,
        CoachingAlert,
    ]  # fmt: skip
    out = {"crm-event.schema.json": TypeAdapter(Event).json_schema()}
    for model in models:
        out[f"{_kebab(model.__name__)}.schema.json"] = model.model_json_schema()
    return out


def _kebab(name: str) -> str:
    return "".join(f"-{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("-")


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the *.schema.json files to.")],
) -> None:
    """Write one JSON Schema file per contract to DIRECTORY (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in contract_schemas().items():
        (directory / name).write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n")
        typer.echo(str(directory / name))
