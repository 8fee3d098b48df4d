"""The hook sources the gateway serves: each mapping with the secrets its auth reads.

Presets (HubSpot, Salesforce) are always there; a user's mapping of the same source replaces
one. A source whose secret variable is unset is not served (404), so no hook is ever open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from schemas.mapping import PRESETS, Mapping, MappingError, load_mapping, load_preset
from schemas.settings import MIN_TOKEN_CHARS, Settings


@dataclass(frozen=True)
class Hook:
    mapping: Mapping
    secrets: tuple[str, ...]
    """The values of ``auth.secret_env``, comma-separated (two while one rotates)."""


def load_hooks(settings: Settings) -> tuple[dict[str, Hook], list[str]]:
    """The served hooks by source, and a line for each source left out (no secret set).

    Raises ``MappingError`` for a mapping file that cannot be used, or a secret too short
    to sign with (anyone could try every value of a short one).
    """
    mappings = {name: load_preset(name) for name in PRESETS}
    for path in (settings.ingest_mappings or "").split(","):
        if path.strip():
            mapping = load_mapping(Path(path.strip()))
            mappings[mapping.source] = mapping
    hooks, off = {}, []
    for source, mapping in mappings.items():
        value = os.environ.get(mapping.auth.secret_env, "")
        secrets = tuple(s.strip() for s in value.split(",") if s.strip())
        short = [s for s in secrets if len(s) < MIN_TOKEN_CHARS]
        if short:
            raise MappingError(
                f"{mapping.auth.secret_env}: a secret of {len(short[0])} characters is too short"
                f" for /v1/hooks/{source}; give at least {MIN_TOKEN_CHARS} (the CRM's own secret,"
                " or `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
            )
        if secrets:
            hooks[source] = Hook(mapping, secrets)
        else:
            off.append(f"/v1/hooks/{source} is off: set {mapping.auth.secret_env} to serve it")
    return hooks, off
