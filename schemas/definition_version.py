"""A published version of the scorecard definition: the records of ``scorecards.definitions``.

Each record is keyed by its version number (as decimal text) and holds the validated
definition with who published it, when, why (the note) and a digest of its content, so
every score can be traced to the definition that made it (``definition_version`` on every
scorecard, score event and alert). ``scorestream schemas export`` writes its JSON Schema.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.exceptions import SchemaError
from schemas.scorecard_definition import ScorecardDefinition


class VersionError(SchemaError):
    """A record of the definitions topic that is not a version; the text says why."""


class DefinitionVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[int, Field(ge=1)]
    note: str = ""
    """Why it was published, in the publisher's words."""
    published_at: AwareDatetime
    published_by: Annotated[str, Field(min_length=1)]
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """SHA-256 of the definition's content (``digest_of``): equal digests, equal scorecards."""
    definition: ScorecardDefinition

    @classmethod
    def of(
        cls,
        version: int,
        definition: ScorecardDefinition,
        *,
        note: str,
        published_by: str,
        published_at: datetime,
    ) -> DefinitionVersion:
        return cls(
            version=version,
            note=note,
            published_at=published_at,
            published_by=published_by,
            digest=digest_of(definition),
            definition=definition,
        )

    @property
    def key(self) -> bytes:
        return version_key(self.version)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


def version_key(version: int) -> bytes:
    """The Kafka key of a version: one key per version, so compaction keeps them all."""
    return str(version).encode()


def digest_of(definition: ScorecardDefinition) -> str:
    """SHA-256 of the definition's content: what differs from the defaults, as JSON with
    sorted keys. Comments, key order and spacing of the YAML do not change it, nor does a
    later release adding a field with a default."""
    content = orjson.dumps(
        definition.model_dump(mode="json", exclude_defaults=True), option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(content).hexdigest()


def parse_version(key: bytes | None, value: bytes | None) -> DefinitionVersion:
    """A record of the topic as a version; ``VersionError`` says what is wrong with it."""
    if value is None:
        raise VersionError(f"key {key!r}: a tombstone, not a version")
    try:
        record = DefinitionVersion.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise VersionError(
            f"key {key!r}: not a definition version this worker can read"
            f" ({exc.error_count()} errors; {where}: {first['msg']})"
        ) from None
    if key != record.key:
        raise VersionError(f"key {key!r} is not the record's version {record.version}")
    return record
