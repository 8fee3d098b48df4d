"""A CRM payload through its mapping: our events' JSON, or why a record is refused.

The mapping decides which event a record becomes and where each field comes from; the
contract (``scorers.ingest.body.parse_lines``, the worker's own check) then decides whether
the event is valid. Records are numbered from 1 in payload order, like the lines of
``POST /v1/events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jmespath
import orjson
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from schemas.ingest import Rejection, RejectReason
from schemas.mapping import OWNER, Kind, Lookup, Mapping
from schemas.mapping_functions import FUNCTIONS
from scorers.ingest.body import Parsed, parse_lines
from scorers.ingest.directory import OwnerDirectory

_OPTIONS = jmespath.Options(custom_functions=FUNCTIONS)


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def _search(expression: str, data: Any) -> Any:
    return _compiled(expression).search(data, options=_OPTIONS)


@dataclass(frozen=True, slots=True)
class _Refused(Exception):
    reason: RejectReason
    errors: list[str]


def apply_mapping(mapping: Mapping, payload: Any, directory: OwnerDirectory) -> Parsed:
    """The events ``payload`` (a parsed JSON document) becomes, and each record refused."""
    records = _records(mapping, payload)
    lines: list[tuple[int, bytes]] = []
    refused: list[Rejection] = []
    for n, record in enumerate(records, start=1):
        try:
            lines.append((n, orjson.dumps(_event(mapping, record, directory))))
        except _Refused as exc:
            refused.append(Rejection(line=n, reason=exc.reason, errors=exc.errors))
    parsed = parse_lines(lines)
    rejected = sorted([*refused, *parsed.rejected], key=lambda r: r.line)
    return Parsed(parsed.events, rejected)


def _records(mapping: Mapping, payload: Any) -> list[Any]:
    try:
        found = _search(mapping.records, payload)
    except JMESPathError:
        found = None
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def _event(mapping: Mapping, record: Any, directory: OwnerDirectory) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _Refused(RejectReason.UNMAPPED, ["a record is a JSON object, not another value"])
    scope = {**record, "let": _lets(mapping, record)}
    kind = _kind_of(mapping, scope)
    event: dict[str, Any] = {"event_type": kind.event}
    for name, source in kind.fields.items():
        value = _value(source, scope, name)
        if value is not None:
            event[name] = value
    if OWNER in event:
        event["rep_id"] = _rep_of(mapping, event.pop(OWNER), directory)
    elif OWNER in kind.fields:
        raise _Refused(RejectReason.UNKNOWN_OWNER, [f"{OWNER}: the record names no owner"])
    return event


def _lets(mapping: Mapping, record: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for name, expression in mapping.let.items():
        try:
            values[name] = _search(expression, record)
        except JMESPathError as exc:
            raise _Refused(RejectReason.UNMAPPED, [f"let.{name}: {exc}"]) from None
    return values


def _kind_of(mapping: Mapping, scope: dict[str, Any]) -> Kind:
    for kind in mapping.kinds:
        try:
            if kind.when is None or _search(kind.when, scope) is True:
                return kind
        except JMESPathError as exc:
            raise _Refused(RejectReason.UNMAPPED, [f"{kind.event} when: {exc}"]) from None
    kinds = ", ".join(kind.event for kind in mapping.kinds)
    raise _Refused(
        RejectReason.UNMAPPED,
        [f"no kind of the {mapping.source} mapping matches this record (kinds: {kinds})"],
    )


def _value(source: str | Lookup, scope: dict[str, Any], name: str) -> Any:
    try:
        if isinstance(source, str):
            return _search(source, scope)
        code = _search(source.expr, scope)
    except JMESPathError as exc:
        raise _Refused(RejectReason.INVALID_EVENT, [f"{name}: {exc}"]) from None
    key = code if isinstance(code, str) else orjson.dumps(code).decode()
    return source.map.get(key, source.default)


def _rep_of(mapping: Mapping, owner: Any, directory: OwnerDirectory) -> str:
    owner_id = str(owner) if isinstance(owner, str | int) and not isinstance(owner, bool) else ""
    crm = mapping.owner_namespace
    reps = directory.reps_of(crm, owner_id) if owner_id else frozenset()
    if len(reps) == 1:
        return next(iter(reps))
    if not reps:
        raise _Refused(
            RejectReason.UNKNOWN_OWNER,
            [f"{OWNER}: {owner!r} is no rep's {crm} owner id; add it to the rep's"
             f" crm_owner_ids.{crm} in the rep directory (crm.reps)"],
        )  # fmt: skip
    raise _Refused(
        RejectReason.AMBIGUOUS_OWNER,
        [f"{OWNER}: {owner!r} is the {crm} owner id of {', '.join(sorted(reps))}; give it to one"],
    )
