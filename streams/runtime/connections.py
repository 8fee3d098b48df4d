"""How every client reaches Kafka and Redis: the settings in each library's own terms.

Three clients talk to Kafka (confluent-kafka's producers, consumers and admin in the CLI;
aiokafka under faust in the worker) and redis-py to Redis. Each spells TLS and SASL its own
way; this module is the one place that translates, so no client can forget the CA or the
password, and a new setting is added once.

A wrong password or an untrusted certificate shows on the first request, and both client
libraries would retry it forever. ``kafka_admin``, ``kafka_consumer`` and ``check_redis``
make that first request, recognise those failures and raise ``AccessError`` naming the
setting to check, within seconds.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import redis.asyncio
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoPermissionError,
    RedisError,
)

from schemas.settings import Settings, env_name, masked_url
from sinks import redis_calls
from sinks.exceptions import RedisUnavailableError
from sinks.redis_calls import RedisCalls, RetryPolicy
from sinks.redis_scorecards import RedisScorecardSink
from streams.runtime.exceptions import AccessError, KafkaUnavailableError
from streams.views import reading
from streams.views.reading import RedisScorecardReader

METADATA_TIMEOUT_S: Final = 10.0
"""How long a broker has to answer the first metadata request before we say it is down."""
PROBE_SLICE_S: Final = 1.0
"""The first request is retried in slices this long, so an authentication or TLS failure,
reported a few hundred milliseconds in, ends the wait at once."""
REDIS_CHECK_TIMEOUT_S: Final = 5.0

_CLIENT_LOGGER: Final = logging.getLogger("confluent_kafka")
"""librdkafka's own log lines go through stdlib logging (and so structlog), not raw stderr."""

_ACCESS_CODES: Final = frozenset({KafkaError._AUTHENTICATION, KafkaError._SSL})

Client = TypeVar("Client", AdminClient, Consumer)


# --- Kafka: confluent-kafka (librdkafka) ------------------------------------------------


def kafka_config(settings: Settings) -> dict[str, Any]:
    """librdkafka properties for a Producer, Consumer or AdminClient on the configured Kafka."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol.lower(),
        "logger": _CLIENT_LOGGER,
    }
    if settings.kafka_sasl:
        config |= {
            "sasl.mechanism": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_username,
            "sasl.password": _sasl_password(settings),
        }
    files = {
        "ssl.ca.location": settings.kafka_ca_file,
        "ssl.certificate.location": settings.kafka_cert_file,
        "ssl.key.location": settings.kafka_key_file,
    }
    config |= {key: str(path) for key, path in files.items() if path is not None}
    return config


def kafka_admin(settings: Settings, *, timeout_s: float = METADATA_TIMEOUT_S) -> AdminClient:
    """An AdminClient whose first metadata request the broker answered."""
    seen = _AccessErrors()
    config = {**kafka_config(settings), "error_cb": seen}
    return _answered(AdminClient(config), seen, settings, timeout_s)


def kafka_consumer(
    settings: Settings, config: dict[str, Any], *, timeout_s: float = METADATA_TIMEOUT_S
) -> Consumer:
    """A Consumer with ``config`` on top of the connection's, once the broker answered it."""
    seen = _AccessErrors()
    consumer = Consumer({**kafka_config(settings), **config, "error_cb": seen})
    try:
        return _answered(consumer, seen, settings, timeout_s)
    except (AccessError, KafkaUnavailableError):
        consumer.close()
        raise


def _sasl_password(settings: Settings) -> str:
    secret = settings.kafka_secret
    assert secret is not None  # the settings refuse SASL without a password
    return secret.get_secret_value()


class _AccessErrors:
    """librdkafka's error callback: keeps the first error that waiting will not fix, and
    the last one of any kind (what a timeout was about)."""

    def __init__(self) -> None:
        self.first: KafkaError | None = None
        self.last: KafkaError | None = None

    def __call__(self, error: KafkaError) -> None:
        self.last = error
        if self.first is None and error.code() in _ACCESS_CODES:
            self.first = error


def _answered(client: Client, seen: _AccessErrors, settings: Settings, timeout_s: float) -> Client:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.list_topics(timeout=max(0.1, min(PROBE_SLICE_S, deadline - time.monotonic())))
            return client
        except KafkaException as exc:
            client.poll(0)  # serves the error callback
            if seen.first is not None:
                raise AccessError(_refused(settings, seen.first)) from None
            if time.monotonic() >= deadline:
                raise KafkaUnavailableError(_unanswered(settings, timeout_s, seen, exc)) from None


def _unanswered(
    settings: Settings, timeout_s: float, seen: _AccessErrors, exc: KafkaException
) -> str:
    # librdkafka's last complaint says more than the timeout: refused, reset, bad certificate.
    error = seen.last.str() if seen.last is not None else (exc.args[0] if exc.args else exc)
    checks = [
        env_name("kafka_bootstrap"),
        f"{env_name('kafka_security_protocol')}={settings.kafka_security_protocol}",
    ]
    if settings.kafka_tls:
        # A broker that requires a client certificate closes the connection without one,
        # or with one its CA did not sign: no error code tells that from a network fault.
        checks.append(f"{env_name('kafka_cert_file')} and {env_name('kafka_key_file')}")
    return (
        f"Kafka at {settings.kafka_bootstrap} did not answer a metadata request within"
        f" {timeout_s:g}s ({error}); start it with `make up`, or check {', '.join(checks)}"
    )


def _refused(settings: Settings, error: KafkaError) -> str:
    """Why Kafka refused us, in the settings' words: which variables to check."""
    where = f"Kafka at {settings.kafka_bootstrap}"
    if error.code() == KafkaError._AUTHENTICATION:
        return (
            f"{where} refused user {settings.kafka_username!r} ({error.str()}); check"
            f" {env_name('kafka_username')}, {env_name('kafka_password')} (or"
            f" {env_name('kafka_password_file')}) and"
            f" {env_name('kafka_sasl_mechanism')}={settings.kafka_sasl_mechanism}"
        )
    checks = (
        f"{env_name('kafka_ca_file')} (the CA that signed the broker's certificate),"
        f" {env_name('kafka_cert_file')} and {env_name('kafka_key_file')} (mutual TLS),"
        f" {env_name('kafka_security_protocol')}={settings.kafka_security_protocol}"
        " (does this listener speak TLS?)"
    )
    return f"TLS with {where} failed ({error.str()}); check {checks}"


# --- Kafka: aiokafka and faust ----------------------------------------------------------


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context aiokafka needs (None without TLS): CA, and client certificate if any."""
    if not settings.kafka_tls:
        return None
    ca = settings.kafka_ca_file
    context = ssl.create_default_context(cafile=None if ca is None else str(ca))
    if settings.kafka_cert_file is not None and settings.kafka_key_file is not None:
        context.load_cert_chain(settings.kafka_cert_file, settings.kafka_key_file)
    return context


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for an AIOKafkaConsumer or AIOKafkaProducer on the configured Kafka."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": _hosts(settings),
        "security_protocol": settings.kafka_security_protocol,
        "ssl_context": kafka_ssl_context(settings),
    }
    if settings.kafka_sasl:
        kwargs |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": _sasl_password(settings),
        }
    return kwargs


def faust_app_kwargs(settings: Settings) -> dict[str, Any]:
    """``broker``, ``broker_credentials`` and ``topic_replication_factor`` for ``faust.App``.

    faust hands the credentials to every aiokafka client it makes: the consumer, the
    producer (outputs and changelogs) and the admin requests that declare its internal
    topics, which get the replication factor of ours.
    """
    # faust takes 0.3 s to import: only the worker pays for it.
    from faust import SASLCredentials, SSLCredentials

    # One URL per host: "kafka://a:9092,b:9092" would read as one host with a bad port.
    kwargs: dict[str, Any] = {
        "broker": [f"kafka://{host}" for host in _hosts(settings)],
        "topic_replication_factor": settings.replication_factor,
    }
    context = kafka_ssl_context(settings)
    if settings.kafka_sasl:
        kwargs["broker_credentials"] = SASLCredentials(
            username=settings.kafka_username,
            password=_sasl_password(settings),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    elif context is not None:
        kwargs["broker_credentials"] = SSLCredentials(context)
    return kwargs


def _hosts(settings: Settings) -> list[str]:
    return [host.strip() for host in settings.kafka_bootstrap.split(",") if host.strip()]


# --- Redis --------------------------------------------------------------------------------


def redis_client(settings: Settings, **options: Any) -> redis.asyncio.Redis:
    """A redis-py asyncio client on the configured Redis; ``options`` tune the client."""
    access: dict[str, Any] = {}
    if settings.redis_username is not None:
        access["username"] = settings.redis_username
    if settings.redis_secret is not None:
        access["password"] = settings.redis_secret.get_secret_value()
    if settings.redis_tls and settings.redis_ca_file is not None:
        access["ssl_ca_certs"] = str(settings.redis_ca_file)
    return redis.asyncio.Redis.from_url(settings.redis_url, **access, **options)


def scorecard_sink(settings: Settings, *, retry: RetryPolicy | None = None) -> RedisScorecardSink:
    """The worker's scorecard writer on a client of its own; ``aclose`` closes it."""
    client = redis_client(settings, **redis_calls.client_options())
    return RedisScorecardSink(RedisCalls(client, retry), settings.redis_prefix)


def scorecard_reader(
    settings: Settings, *, timeout_s: float = REDIS_CHECK_TIMEOUT_S
) -> RedisScorecardReader:
    """The scorecard reader on a client of its own; ``aclose`` closes it."""
    client = redis_client(settings, **reading.client_options(timeout_s))
    return RedisScorecardReader(client, settings.redis_prefix, owns_client=True)


async def check_redis(settings: Settings, *, timeout_s: float = REDIS_CHECK_TIMEOUT_S) -> None:
    """PING with the configured user and TLS.

    Raises ``AccessError`` (naming the setting) when Redis refuses the credentials or the TLS
    handshake fails, and ``RedisUnavailableError`` when it does not answer at all.
    """
    client = redis_client(settings, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    where = f"Redis at {masked_url(settings.redis_url)}"
    try:
        await client.ping()
    except (AuthenticationError, AuthorizationError, NoPermissionError) as exc:
        user = settings.redis_username or urlsplit(settings.redis_url).username or "default"
        raise AccessError(
            f"{where} refused user {user!r} ({exc}); check {env_name('redis_username')} and"
            f" {env_name('redis_password')} (or {env_name('redis_password_file')}, or the user"
            f" and password in {env_name('redis_url')})"
        ) from None
    except RedisError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            raise AccessError(
                f"TLS with {where} failed ({cause}); check {env_name('redis_ca_file')}"
                f" (the CA that signed the server's certificate) and that {env_name('redis_url')}"
                " names the TLS port"
            ) from None
        raise RedisUnavailableError(f"{where} does not answer ({exc})") from exc
    finally:
        await client.aclose()
