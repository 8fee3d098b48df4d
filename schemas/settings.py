"""Runtime settings, read once from the environment and validated at start.

A wrong value fails at start with the variable's name and the fix, never later
on the hot path. That includes how to reach a secured Kafka (TLS, SASL) and Redis
(``rediss://``, an ACL user): files are checked to exist, be readable and hold what
the clients will load, and settings that only make sense together are checked together.

Secrets never leave this model as text: passwords are ``SecretStr`` (masked in repr and
errors), a password in the Redis URL is masked by ``masked_url``, and an error about a
secret variable never repeats its value.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.exceptions import SchemaError

ENV_PREFIX = "SCORESTREAM_"
MIN_TOKEN_CHARS = 16
"""A web token shorter than this could be guessed."""

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
"""Kafka's names, the same in librdkafka, aiokafka and the Java clients."""
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_SASL: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
_TLS: Final = frozenset({"SSL", "SASL_SSL"})


class SettingsError(SchemaError):
    """An environment variable that cannot be used; the text names it and the fix."""


def env_name(field: str) -> str:
    """The variable of a settings field: ``kafka_ca_file`` -> SCORESTREAM_KAFKA_CA_FILE."""
    return ENV_PREFIX + field.upper()


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***``: URLs end up in logs and CI output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _readable(path: Path) -> Path:
    """A file this process can open now, so a typo fails at start, not at the first connect."""
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("is a directory, not a file") from None
    except PermissionError:
        raise ValueError(f"is not readable by this user (uid {os.getuid()})") from None
    return path


ReadableFile = Annotated[Path, AfterValidator(_readable)]


class Settings(BaseModel):
    """Every knob the services read; each field is the env var SCORESTREAM_<FIELD>."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_bootstrap: Annotated[str, Field(min_length=1)] = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_password_file: ReadableFile | None = None
    kafka_ca_file: ReadableFile | None = None
    """PEM bundle of the CA(s) that signed the brokers' certificates; unset: the system's CAs."""
    kafka_cert_file: ReadableFile | None = None
    """PEM client certificate, for brokers that authenticate clients by TLS (mutual TLS)."""
    kafka_key_file: ReadableFile | None = None
    """PEM private key of ``kafka_cert_file``, not encrypted."""
    redis_url: Annotated[str, Field(pattern=r"^rediss?://")] = "redis://127.0.0.1:6379/0"
    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_password_file: ReadableFile | None = None
    redis_ca_file: ReadableFile | None = None
    partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    replication_factor: Annotated[int, Field(ge=1, le=32)] = 1
    """Copies of every topic we create, ours and the worker's internal ones: 1 for the one
    local broker; managed clusters want 3 (Confluent Cloud refuses less, and MSK's
    min.insync.replicas=2 refuses writes to fewer)."""
    redis_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]+$")] = "ss"
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]*$", max_length=100)] = ""
    """Before every topic and consumer group name (``schemas.topics.PREFIX``, which reads the
    same variable): Kafka's characters only, e.g. ``staging.``."""
    log_format: Literal["auto", "json", "console"] = "auto"
    web_token: SecretStr | None = None
    """When set, every page and API call of ``scorestream serve`` needs it (a bearer header,
    or the cookie its sign-in form sets). A secret: shown as ``**********``, never printed."""

    ingest_keys: SecretStr | None = None
    """API keys of ``POST /v1/events``, comma-separated (two while one rotates). A secret."""
    ingest_keys_file: ReadableFile | None = None
    """A file of ingest API keys, one a line (instead of ``ingest_keys``)."""
    ingest_max_body_bytes: Annotated[int, Field(ge=1024, le=100_000_000)] = 5_000_000
    ingest_max_events: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    ingest_deadline_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long a request waits for Kafka to acknowledge its events before the answer is 503."""
    ingest_rate_per_s: Annotated[float, Field(gt=0, le=100_000)] = 50.0
    """Requests a second per API key (or hook source); bursts of twice that; past it 429."""
    ingest_mappings: str | None = None
    """Mapping files (YAML) of the gateway's hooks, comma-separated; a mapping of the same
    source replaces the shipped preset (hubspot, salesforce)."""
    ingest_public_url: Annotated[str, Field(pattern=r"^https?://[^/?#]+$")] | None = None
    """The gateway's URL as the CRMs call it (``https://crm-in.example.com``), when a proxy
    in front changes it: HubSpot signs the URL it called."""
    web_admins: tuple[Annotated[str, Field(pattern=r"^[^@\s,]+@[^@\s,]+$")], ...] = ()
    """E-mails (comma-separated) of the people who are admins when they sign in."""
    web_session_hours: Annotated[int, Field(ge=1, le=720)] = 12
    """A browser session ends this long after sign-in (or at sign-out)."""
    oidc_issuer: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None
    """The identity provider (Okta, Entra ID, Google, Keycloak) people sign in with: its
    issuer URL, whose ``/.well-known/openid-configuration`` says the rest."""
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None

    _kafka_secret: SecretStr | None = PrivateAttr(default=None)
    _redis_secret: SecretStr | None = PrivateAttr(default=None)

    @field_validator(
        "kafka_sasl_mechanism", "kafka_username", "kafka_password", "kafka_password_file",
        "kafka_ca_file", "kafka_cert_file", "kafka_key_file", "redis_username",
        "redis_password", "redis_password_file", "redis_ca_file", "web_token", "ingest_keys",
        "ingest_keys_file", "ingest_mappings", "ingest_public_url", "oidc_issuer",
        "oidc_client_id", "oidc_client_secret", mode="before",
    )  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `VAR=` in an env file or `${VAR:-}` in a compose file means "not set".
        return None if value == "" else value

    @field_validator("web_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"use {MIN_TOKEN_CHARS} characters or more (e.g. the output of"
                " `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
            )
        return token

    @field_validator("web_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = [*self._kafka_problems(), *self._redis_problems(), *self._ingest_problems(),
                    *self._oidc_problems()]  # fmt: skip
        if problems:
            raise ValueError("; ".join(problems))
        self._kafka_secret = _secret(self.kafka_password, self.kafka_password_file)
        url = urlsplit(self.redis_url)
        in_url = None if url.password is None else SecretStr(unquote(url.password))
        self._redis_secret = _secret(self.redis_password, self.redis_password_file) or in_url
        return self

    def ingest_key_list(self) -> list[str]:
        """The ingest API keys from ``ingest_keys`` and ``ingest_keys_file`` (blank lines and
        ``#`` comments in the file skipped)."""
        keys = []
        if self.ingest_keys is not None:
            keys += self.ingest_keys.get_secret_value().split(",")
        if self.ingest_keys_file is not None:
            lines = self.ingest_keys_file.read_text().splitlines()
            keys += [line for line in lines if not line.lstrip().startswith("#")]
        return [key.strip() for key in keys if key.strip()]

    @property
    def kafka_sasl(self) -> bool:
        return self.kafka_security_protocol in _SASL

    @property
    def kafka_tls(self) -> bool:
        return self.kafka_security_protocol in _TLS

    @property
    def kafka_secret(self) -> SecretStr | None:
        """The SASL password: SCORESTREAM_KAFKA_PASSWORD or the file ..._PASSWORD_FILE names."""
        return self._kafka_secret

    @property
    def redis_tls(self) -> bool:
        return self.redis_url.startswith("rediss://")

    @property
    def redis_secret(self) -> SecretStr | None:
        """The Redis password from SCORESTREAM_REDIS_PASSWORD(_FILE) or the URL."""
        return self._redis_secret

    def _kafka_problems(self) -> Iterator[str]:
        protocol = f"{env_name('kafka_security_protocol')}={self.kafka_security_protocol}"
        given = {name for name in _KAFKA_SASL_FIELDS if getattr(self, name) is not None}
        if self.kafka_sasl:
            if self.kafka_sasl_mechanism is None:
                yield (
                    f"{protocol} needs {env_name('kafka_sasl_mechanism')}: PLAIN,"
                    " SCRAM-SHA-256 or SCRAM-SHA-512 (your provider's console names it)"
                )
            if self.kafka_username is None:
                yield f"{protocol} needs {env_name('kafka_username')}"
            yield from _one_password("kafka", self.kafka_password, self.kafka_password_file)
        elif given:
            names = ", ".join(env_name(n) for n in sorted(given))
            yield (
                f"{names} set, but {protocol} sends no credentials;"
                f" set {env_name('kafka_security_protocol')}=SASL_SSL (or SASL_PLAINTEXT)"
            )
        files = [n for n in ("kafka_ca_file", "kafka_cert_file", "kafka_key_file")
                 if getattr(self, n) is not None]  # fmt: skip
        if files and not self.kafka_tls:
            yield (
                f"{', '.join(env_name(n) for n in files)} set, but {protocol} does not use TLS;"
                f" set {env_name('kafka_security_protocol')}=SSL or SASL_SSL"
            )
        if (self.kafka_cert_file is None) != (self.kafka_key_file is None):
            yield (
                f"mutual TLS needs both {env_name('kafka_cert_file')} and"
                f" {env_name('kafka_key_file')}; give both or neither"
            )
        yield from _pem_problems("kafka_ca_file", self.kafka_ca_file)
        if self.kafka_cert_file is not None and self.kafka_key_file is not None:
            try:
                ssl.create_default_context().load_cert_chain(
                    self.kafka_cert_file, self.kafka_key_file, password=_no_passphrase
                )
            except (ssl.SSLError, _EncryptedKeyError) as exc:
                yield (
                    f"{env_name('kafka_cert_file')} and {env_name('kafka_key_file')} do not load"
                    f" as a PEM certificate and the unencrypted private key that belongs to it"
                    f" ({exc})"
                )

    def _ingest_problems(self) -> Iterator[str]:
        short = sum(len(key) < MIN_TOKEN_CHARS for key in self.ingest_key_list())
        if short:
            where = f"{env_name('ingest_keys')} or {env_name('ingest_keys_file')}"
            yield (
                f"{short} key(s) in {where} have fewer than {MIN_TOKEN_CHARS} characters; use"
                " `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
            )

    def _redis_problems(self) -> Iterator[str]:
        url = urlsplit(self.redis_url)
        url_name = env_name("redis_url")
        if url.username and self.redis_username is not None:
            yield f"give the Redis user in {url_name} or {env_name('redis_username')}, not both"
        if url.password is not None and (
            self.redis_password is not None or self.redis_password_file is not None
        ):
            yield (
                f"{url_name} holds a password and {env_name('redis_password')}(_FILE) is set;"
                " give it in one place"
            )
        yield from _one_password("redis", self.redis_password, self.redis_password_file, True)
        has_password = url.password is not None or self.redis_password is not None
        if (url.username or self.redis_username) and not (
            has_password or self.redis_password_file is not None
        ):
            yield (
                f"the Redis ACL user needs a password: set {env_name('redis_password')}"
                f" (or {env_name('redis_password_file')}, or put it in {url_name})"
            )
        if self.redis_ca_file is not None and not self.redis_tls:
            yield (
                f"{env_name('redis_ca_file')} set, but {url_name} is redis:// (no TLS);"
                " use rediss://"
            )
        yield from _pem_problems("redis_ca_file", self.redis_ca_file)

    def _oidc_problems(self) -> Iterator[str]:
        given = [
            n for n in ("oidc_client_id", "oidc_client_secret") if getattr(self, n) is not None
        ]
        if self.oidc_issuer is None:
            if given:
                names = ", ".join(env_name(n) for n in given)
                yield f"{names} set without {env_name('oidc_issuer')} (the provider's issuer URL)"
            return
        for name in ("oidc_client_id", "oidc_client_secret"):
            if getattr(self, name) is None:
                yield (
                    f"{env_name('oidc_issuer')} needs {env_name(name)}"
                    " (from the app registered at the identity provider)"
                )
        host = urlsplit(self.oidc_issuer).hostname or ""
        if self.oidc_issuer.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            yield f"{env_name('oidc_issuer')} must be https:// (http only on loopback, for tests)"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, masked_url(value) if name == "redis_url" else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {name: env[env_name(name)] for name in cls.model_fields if env_name(name) in env}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(_problem(err) for err in exc.errors(include_url=False))
            raise SettingsError(f"bad environment: {problems}") from None


SECRETS: Final = frozenset({"web_token", "ingest_keys", "oidc_client_secret"})
"""Secrets whose name does not say ``password``: their values never appear in a message."""

_KAFKA_SASL_FIELDS: Final = (
    "kafka_sasl_mechanism",
    "kafka_username",
    "kafka_password",
    "kafka_password_file",
)


def _problem(err: Any) -> str:
    """One validation error as ``VAR='value': what is wrong (default ...)``, secrets masked."""
    message = str(err["msg"]).removeprefix("Value error, ")
    if not err["loc"]:  # a check across fields: the message names the variables
        return message
    field = str(err["loc"][0])
    value = err["input"]
    if "password" in field or field in SECRETS:
        shown = "'***'"
    elif field == "redis_url" and isinstance(value, str):
        shown = repr(masked_url(value))
    else:
        shown = repr(value)
    default = Settings.model_fields[field].default
    hint = "" if default is None else f" (default {default!r})"
    return f"{env_name(field)}={shown}: {message}{hint}"


def _one_password(
    service: str, password: SecretStr | None, path: Path | None, optional: bool = False
) -> Iterator[str]:
    name, file_name = env_name(f"{service}_password"), env_name(f"{service}_password_file")
    if password is not None and path is not None:
        yield f"give {name} or {file_name}, not both"
    elif password is None and path is None and not optional:
        yield f"SASL needs a password: set {name} or {file_name} (a file holding it)"
    elif path is not None and not path.read_text().strip("\r\n"):
        yield f"{file_name}={str(path)!r} is empty"


def _secret(password: SecretStr | None, path: Path | None) -> SecretStr | None:
    """The password given inline, or the first line of its file (a trailing newline is no part)."""
    if path is not None:
        return SecretStr(path.read_text().strip("\r\n"))
    return password


def _pem_problems(field: str, path: Path | None) -> Iterator[str]:
    if path is None:
        return
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        yield (
            f"{env_name(field)}={str(path)!r} does not load as PEM certificates ({exc});"
            " a Java truststore converts with `keytool -exportcert -rfc`"
        )


class _EncryptedKeyError(Exception):
    def __str__(self) -> str:
        return "the key is encrypted; decrypt it with `openssl pkey`"


def _no_passphrase() -> str:
    """Asked for only when the key is encrypted: the clients would have no passphrase either."""
    raise _EncryptedKeyError
