"""Where coaching alerts go: the routing file of ``scorestream notify`` (routing as code).

A YAML file names the channels (a Standard Webhooks receiver, a Slack or Teams webhook, an
SMTP mailbox) and the routes that send alerts to them. Secrets are never written in it:
a channel names the environment variables that hold its URL, signing secret or password
(``*_env``), so the file can be reviewed and committed like the scorecard.

Loading validates all of it; each error names the line of the file, the field and the fix.
``resolve_secrets`` then reads the variables, checks them, and never repeats their values.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeAlias
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from schemas.exceptions import SchemaError

Severity = Literal["positive", "info", "warning"]
ChannelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
WEBHOOK_SECRET_PREFIX: Final = "whsec_"

_INLINE_SECRETS: Final = {
    "url": "url_env",
    "secret": "secret_env",
    "password": "password_env",
    "username": "username_env",
}
"""Fields people write inline by habit, and the ``*_env`` field that replaces each."""


class RoutesError(SchemaError):
    """A routing file (or a variable it names) that cannot be used; the text names the line,
    the field and the fix, never a secret's value."""


_Strict = ConfigDict(extra="forbid", frozen=True)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'"
        ) from None
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone)]


class Digest(BaseModel):
    """The channel gets one message a day at ``at`` (local time in ``timezone``) with every
    alert routed to it since the last one, instead of one message per alert."""

    model_config = _Strict

    at: time
    timezone: TimeZone = "UTC"


class _Channel(BaseModel):
    model_config = _Strict

    digest: Digest | None = None

    timeout_s: Annotated[float, Field(gt=0, le=300)] = 60.0
    """How long one request may take before it counts as failed and is retried. Long on
    purpose: a receiver that answers after we gave up has the alert twice."""
    retry_for_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """How long failed sends of one alert are retried before the alert is parked; a parked
    alert is retried in the background until the receiver is back."""


class WebhookChannel(_Channel):
    """A receiver of Standard Webhooks: the CoachingAlert JSON, signed with its secret."""

    type: Literal["webhook"]
    url_env: EnvName
    secret_env: EnvName
    """Holds ``whsec_<base64>``: the receiver verifies the signature with the same secret."""


class SlackChannel(_Channel):
    """A Slack incoming webhook (Block Kit message)."""

    type: Literal["slack"]
    url_env: EnvName


class TeamsChannel(_Channel):
    """A Microsoft Teams workflow webhook (Adaptive Card message)."""

    type: Literal["teams"]
    url_env: EnvName


class EmailChannel(_Channel):
    """Mail over SMTP: plain-text and HTML parts, STARTTLS and login when configured."""

    type: Literal["email"]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    """Upgrade the connection with STARTTLS (port 587); false only for a local relay."""
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    ca_file: Path | None = None
    """PEM CA that signed the server's certificate, for a private relay; unset: the system's."""
    sender: Annotated[str, Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")]
    to: Annotated[list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]], Field(min_length=1)]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _login_pair(self) -> EmailChannel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("give both username_env and password_env (SMTP login) or neither")
        return self


Channel: TypeAlias = Annotated[
    WebhookChannel | SlackChannel | TeamsChannel | EmailChannel, Discriminator("type")
]


class Route(BaseModel):
    """Alerts matching every selector given go to each channel of ``to``; a selector left out
    matches everything."""

    model_config = _Strict

    rules: list[str] | None = None
    severities: list[Severity] | None = None
    teams: list[str] | None = None
    reps: list[str] | None = None
    to: Annotated[list[ChannelName], Field(min_length=1)]


class QuietHours(BaseModel):
    """Alerts of ``hold`` severities raised between ``start`` and ``end`` (the team's local
    time) are sent at ``end``; others go at once."""

    model_config = _Strict

    start: time
    end: time
    hold: list[Severity] = ["positive", "info"]

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time; remove quiet_hours instead")
        return self


class TeamPolicy(BaseModel):
    """What a team's manager asked for: a time zone, rules to mute, quiet hours."""

    model_config = _Strict

    timezone: TimeZone = "UTC"
    muted_rules: list[str] = []
    quiet_hours: QuietHours | None = None


class RoutingFile(BaseModel):
    """A whole routing file; ``docs/notify.md`` describes each field."""

    model_config = _Strict

    channels: Annotated[dict[ChannelName, Channel], Field(min_length=1)]
    routes: Annotated[list[Route], Field(min_length=1)]
    teams: dict[str, TeamPolicy] = {}
    rep_page_url: str | None = None
    """Where ``scorestream serve`` runs (``http://host:8000``): messages link to the rep page."""

    @model_validator(mode="after")
    def _known_channels(self) -> RoutingFile:
        for i, route in enumerate(self.routes):
            for name in route.to:
                if name not in self.channels:
                    known = ", ".join(sorted(self.channels))
                    raise ValueError(
                        f"routes.{i}.to: no channel {name!r}; add it under channels or use"
                        f" one of {known}"
                    )
        return self


class ChannelSecrets(BaseModel):
    """What a channel's ``*_env`` variables hold, checked; never printed."""

    model_config = ConfigDict(frozen=True)

    url: SecretStr | None = None
    secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None


def _field_of(loc: tuple[int | str, ...]) -> list[int | str]:
    """The path as written in the file, without the union tag pydantic inserts
    (``channels.floor.webhook.url_env`` -> ``channels.floor.url_env``)."""
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "channels" and parts[2] in _CHANNEL_TYPES:
        del parts[2]
    return parts


_CHANNEL_TYPES: Final = {"webhook", "slack", "teams", "email"}


def _line_of(node: yaml.Node | None, path: list[int | str]) -> int | None:
    """The 1-based line of ``path`` in the composed YAML (the deepest node that exists)."""
    line = None if node is None else node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == str(part)), None)
            key = next((k for k, _ in node.value if k.value == str(part)), None)
            if found is None or key is None:
                return line
            line, node = key.start_mark.line + 1, found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _message(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    field = str(err["loc"][-1]) if err["loc"] else ""
    if err["type"] == "extra_forbidden" and field in _INLINE_SECRETS:
        return (
            f"secrets are never written in the file; put the value in an environment"
            f" variable and name it with {_INLINE_SECRETS[field]}"
        )
    if err["type"] == "missing":
        return f"missing; add {field}: (docs/notify.md shows each channel type's fields)"
    if err["type"] == "extra_forbidden":
        return "unknown field; check its spelling against docs/notify.md"
    if err["type"] == "union_tag_invalid":
        return f"{err['input'].get('type')!r} is unknown; use webhook, slack, teams or email"
    if err["type"] == "union_tag_not_found":
        return "needs a type: webhook, slack, teams or email"
    if err["type"] == "string_pattern_mismatch" and field.endswith("_env"):
        return f"{err['input']!r} is not a variable name; use letters, digits and _"
    if err["type"] == "string_pattern_mismatch" and len(err["loc"]) == 2:
        return f"{err['input']!r}: channel names are a-z, 0-9, - and _"
    if err["type"] == "literal_error":
        return f"{err['input']!r} is not allowed; expected {err['ctx']['expected']}"
    return msg


def _describe(exc: ValidationError, root: yaml.Node | None, source: str) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        path = _field_of(err["loc"])
        if err["type"] == "union_tag_invalid":
            path.append("type")
        message = _message(err)
        # A check across fields names its own path ("routes.0.to: ..."): place it there.
        match = re.match(r"^(routes\.\d+\.to): ", message)
        if not path and match:
            path = [int(p) if p.isdigit() else p for p in match.group(1).split(".")]
            message = message[match.end() :]
        where = ".".join(str(p) for p in path) or "(top level)"
        line = _line_of(root, path)
        lines.append(f"  {source}:{line or 1}: {where}: {message}")
    return "\n".join(lines)


def parse_routes(text: str, source: str = "<routes>") -> RoutingFile:
    """Validate a routing file's text; every error names its line, field and fix."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutesError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RoutesError(f"{source}:1: expected a mapping with channels and routes")
    try:
        return RoutingFile.model_validate(data)
    except ValidationError as exc:
        raise RoutesError(
            f"{source} is not a valid routing file:\n{_describe(exc, root, source)}"
        ) from None


def load_routes(path: Path) -> RoutingFile:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RoutesError(f"cannot read routing file {path}: {exc.strerror}") from None
    return parse_routes(text, str(path))


def resolve_secrets(routes: RoutingFile, environ: Mapping[str, str]) -> dict[str, ChannelSecrets]:
    """Each channel's secrets from the environment; every missing or malformed variable is
    reported at once (by name, never by value)."""
    problems: list[str] = []
    resolved: dict[str, ChannelSecrets] = {}
    for name, channel in routes.channels.items():
        where = f"channels.{name}"

        def read(var: str | None, what: str, where: str = where) -> str | None:
            if var is None:
                return None
            value = environ.get(var, "")
            if not value:
                problems.append(f"{where}: {what} variable {var} is not set; export it")
                return None
            return value

        if isinstance(channel, EmailChannel):
            password = read(channel.password_env, "password")
            resolved[name] = ChannelSecrets(
                username=read(channel.username_env, "username"),
                password=None if password is None else SecretStr(password),
            )
            continue
        url = read(channel.url_env, "URL")
        if url is not None and not _is_http_url(url):
            problems.append(
                f"{where}: {channel.url_env} does not hold an http(s) URL (value hidden); set"
                " it to the receiver's webhook URL"
            )
        secret_env = channel.secret_env if isinstance(channel, WebhookChannel) else None
        secret = read(secret_env, "signing secret")
        if secret is not None and not _is_webhook_secret(secret):
            problems.append(
                f"{where}: {secret_env} is not a Standard Webhooks secret (value hidden);"
                f" use {WEBHOOK_SECRET_PREFIX}<base64 of 24 to 64 random bytes>, e.g. the output of"
                ' `python -c \'import base64,os; print("whsec_"+base64.b64encode(os.urandom(32))'
                ".decode())'`"
            )
        resolved[name] = ChannelSecrets(
            url=None if url is None else SecretStr(url),
            secret=None if secret is None else SecretStr(secret),
        )
    if problems:
        raise RoutesError(
            "the routing file's variables cannot be used:\n  " + "\n  ".join(problems)
        )
    return resolved


def masked(url: str) -> str:
    """A webhook URL as it may be shown: scheme and host; the path is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/***"


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_webhook_secret(secret: str) -> bool:
    """What the specification's library takes as a key (``whsec_`` optional, padding too):
    a receiver verifying with that library and the same text then always agrees with us."""
    rest = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        return bool(base64.b64decode(rest + "=" * (-len(rest) % 4)))
    except (binascii.Error, ValueError):
        return False
