"""Runtime settings, read once from the environment and validated at start.

A wrong value fails at start with the variable's name and the fix, never later
on the hot path.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.exceptions import SchemaError

ENV_PREFIX = "SCORESTREAM_"


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
                f"{ENV_PREFIX}{str(err['loc'][0]).upper()}={err['input']!r}: {err['msg']}"
                f" (default {cls.model_fields[str(err['loc'][0])].default!r})"
                for err in exc.errors(include_url=False)
            )
            raise SettingsError(f"bad environment: {problems}") from None
