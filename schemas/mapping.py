"""A mapping: how one CRM's webhook payloads become our events (reviewed YAML, like the scorecard).

Per kind of record it names the event it becomes and where each field comes from, as a
JMESPath expression over the record (https://jmespath.org, plus ``schemas.mapping_functions``).
The shipped presets (``schemas/mappings/*.yaml``) are examples to copy. A mapping is checked
whole when it is loaded: every expression parses and calls known functions, every kind names
an event of the contract and gives each field that event requires, so a typo fails at start
with its line, never on the first webhook.
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import jmespath
import yaml
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.events import EVENT_MODELS, TOPIC_OF_EVENT_TYPE, CrmName, EventBase
from schemas.exceptions import SchemaError
from schemas.mapping_functions import FUNCTION_NAMES
from schemas.yaml_lines import YamlDocument

PRESETS: Final = ("hubspot", "salesforce")
"""Mappings shipped in ``schemas/mappings/``; a user's mapping of the same source replaces one."""
OWNER: Final = "owner"
"""The field that names the record's owner in the CRM; the rep directory turns it into rep_id."""
_MODEL_OF: Final = {model.model_fields["event_type"].default: model for model in EVENT_MODELS}


class MappingError(SchemaError):
    """A mapping file that cannot be used; the text names the line, the field and the fix."""


def _expression(text: str) -> str:
    try:
        parsed = jmespath.compile(text)
    except JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression: {exc}") from None
    unknown = sorted(_functions(dict(parsed.parsed)) - FUNCTION_NAMES)
    if unknown:
        raise ValueError(
            f"unknown function {', '.join(unknown)}(); the functions are"
            f" {', '.join(sorted(FUNCTION_NAMES))}"
        )
    return text


def _functions(node: dict[str, Any]) -> set[str]:
    names = {node["value"]} if node.get("type") == "function_expression" else set()
    for child in node.get("children", ()):
        if isinstance(child, dict):
            names |= _functions(child)
    return names


Expression = Annotated[str, Field(min_length=1), AfterValidator(_expression)]
"""A JMESPath expression over one record (``properties.amount``, ``iso_time(closedate)``)."""
EnvName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]


class Lookup(BaseModel):
    """A value looked up in a table: CRM codes (call dispositions) to our words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expr: Expression
    map: dict[str, Any] = Field(min_length=1)
    default: Any = None
    """The value for a code the table lacks; none: the field is left out (the contract may
    then reject the event, naming the field)."""


class Kind(BaseModel):
    """One kind of record: when it applies and how it becomes one event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Literal[tuple(TOPIC_OF_EVENT_TYPE)]  # type: ignore[valid-type]
    when: Expression | None = None
    """True for the records of this kind; the first kind that matches a record wins. None: all."""
    fields: dict[str, Expression | Lookup]

    @model_validator(mode="after")
    def _fields_of_the_event(self) -> Kind:
        model = _MODEL_OF[self.event]
        known = set(model.model_fields) - {"event_type"}
        unknown = sorted(set(self.fields) - known - {OWNER})
        if unknown:
            raise ValueError(
                f"{self.event} has no field {', '.join(unknown)}; its fields are"
                f" {', '.join(sorted(known))} (and {OWNER!r}, the CRM owner id)"
            )
        if (OWNER in self.fields) == ("rep_id" in self.fields):
            raise ValueError(
                f"give either {OWNER!r} (the CRM's owner id, found in the rep directory) or"
                " 'rep_id' (our rep id, when the payload carries it), not both"
            )
        missing = sorted(_required(model) - set(self.fields) - {"rep_id"})
        if missing:
            raise ValueError(f"{self.event} needs the fields {', '.join(missing)}; add them")
        return self


def _required(model: type[EventBase]) -> set[str]:
    return {name for name, f in model.model_fields.items() if f.is_required()}


class Auth(BaseModel):
    """How a request proves it comes from the CRM, checked before its body is read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Literal["hubspot_v3", "shared_secret"]
    """``hubspot_v3``: HubSpot's request signature v3 (the app's client secret).
    ``shared_secret``: the secret as ``Authorization: Bearer``, ``X-Scorestream-Key`` or, for
    senders that cannot set headers (Salesforce Outbound Messages), ``?key=`` in the URL."""
    secret_env: EnvName
    """The variable that holds the secret; secrets are never written in a mapping."""


class Mapping(BaseModel):
    """How the payloads of one CRM source become events; ``POST /v1/hooks/{source}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: CrmName
    format: Literal["json", "salesforce_outbound"] = "json"
    """``salesforce_outbound``: Salesforce's SOAP Outbound Message (answered with its Ack),
    or JSON ``{"records": [...]}`` from a Flow HTTP callout."""
    auth: Auth
    owners: CrmName | None = None
    """Whose ids the ``owner`` field holds: the key in a rep's ``crm_owner_ids``; default
    ``source``."""
    records: Expression = "@"
    """Where the records are in a payload: a list of them, or one object."""
    let: dict[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")], Expression] = {}
    """Values computed once per record and used by the kinds as ``let.NAME``."""
    kinds: list[Kind] = Field(min_length=1)

    @cached_property
    def owner_namespace(self) -> str:
        return self.owners or self.source


def parse_mapping(text: str, source: str) -> Mapping:
    """The mapping in ``text`` (YAML), or ``MappingError`` naming each problem's line."""
    try:
        document = YamlDocument(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{source} is not valid YAML: {exc}") from None
    try:
        return Mapping.model_validate(document.data)
    except ValidationError as exc:
        raise MappingError(
            f"{source} is not a valid mapping:\n{_describe(exc, document)}"
        ) from None


def load_mapping(path: Path) -> Mapping:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping {path}: {exc}") from None
    return parse_mapping(text, str(path))


def load_preset(name: str) -> Mapping:
    """A shipped mapping by source name (``hubspot``, ``salesforce``)."""
    text = resources.files("schemas").joinpath(f"mappings/{name}.yaml").read_text("utf-8")
    return parse_mapping(text, f"preset {name}.yaml")


def _describe(exc: ValidationError, document: YamlDocument) -> str:
    lines = []
    errors = exc.errors(include_url=False)
    as_text = {_yaml_path(e["loc"]) for e in errors if _member(e["loc"]) == "str"}
    for err in errors:
        loc = _yaml_path(err["loc"])
        if loc in as_text and _member(err["loc"]) == "Lookup":
            continue  # a field given as text: the error of the text is the one to show
        path = ".".join(str(p) for p in loc) or "(top level)"
        line = document.line_of(loc)
        where = f"line {line}: " if line is not None else ""
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field; check its spelling against the presets in schemas/mappings/"
        elif err["type"] == "literal_error" and loc[-1:] == ("event",):
            message = f"{err['input']!r} is not an event type; use one of {err['ctx']['expected']}"
        lines.append(f"  {where}{path}: {message}")
    return "\n".join(lines)


def _member(loc: tuple[int | str, ...]) -> str | None:
    """Which member of ``Expression | Lookup`` an error is about, if any."""
    last = loc[-1] if loc else None
    if last == "Lookup":
        return "Lookup"
    return "str" if isinstance(last, str) and "[" in last else None


def _yaml_path(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The path as written in the file, without the union members pydantic inserts."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p == "Lookup" or "[" in p)))
