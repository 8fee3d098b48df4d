"""Runtime settings, read once from the environment and validated at start.

A wrong value fails at start with the variable's name and the fix, never later
on the hot path.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from schemas.exceptions import SchemaError

ENV_PREFIX = "SCORESTREAM_"
MIN_TOKEN_CHARS = 16
"""A web token shorter than this could be guessed."""


class SettingsError(SchemaError):
    """An environment variable that cannot be used; the text names it and the fix."""


class Settings(BaseModel):
    """Every knob the services read; each field is the env var SCORESTREAM_<FIELD>."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_bootstrap: Annotated[str, Field(min_length=1)] = "127.0.0.1:9092"
    redis_url: Annotated[str, Field(pattern=r"^rediss?://")] = "redis://127.0.0.1:6379/0"
    partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    redis_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]+$")] = "ss"
    log_format: Literal["auto", "json", "console"] = "auto"
    web_token: SecretStr | None = None
    """When set, every page and API call of ``scorestream serve`` needs it (a bearer header,
    or the cookie its sign-in form sets). A secret: shown as ``**********``, never printed."""

    @field_validator("web_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"use {MIN_TOKEN_CHARS} characters or more (e.g. the output of"
                " `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
            )
        return token

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {
            name: env[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in env
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{str(err['loc'][0]).upper()}={_shown(err)}: {err['msg']}"
                f" (default {cls.model_fields[str(err['loc'][0])].default!r})"
                for err in exc.errors(include_url=False)
            )
            raise SettingsError(f"bad environment: {problems}") from None


SECRETS = frozenset({"web_token"})
"""Fields whose values never appear in an error message (or a log, or CI output)."""


def _shown(err: Any) -> str:
    return "'***'" if err["loc"][0] in SECRETS else repr(err["input"])
