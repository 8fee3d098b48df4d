"""The settings in each client library's terms: librdkafka, aiokafka, faust and redis-py.

Unit tests of the translation (nothing running); the real secured servers are in
tests/integration/test_secured.py.
"""

from __future__ import annotations

import ssl

import pytest
import redis.asyncio
from faust import SASLCredentials, SSLCredentials

from schemas.settings import Settings
from streams.runtime import connections
from tests.pem_files import PemFiles

SECRET = "s3cr3t-Pa55"


@pytest.fixture(name="secured")
def fixture_secured(pem_files: PemFiles) -> Settings:
    return Settings(
        kafka_bootstrap="b-1.example.com:9096,b-2.example.com:9096",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_username="scorestream",
        kafka_password=SECRET,  # type: ignore[arg-type]  # pydantic makes it a SecretStr
        kafka_ca_file=pem_files.ca,
        kafka_cert_file=pem_files.cert,
        kafka_key_file=pem_files.key,
        redis_url="rediss://cache.example.com:6380/2",
        redis_username="app",
        redis_password=SECRET,  # type: ignore[arg-type]
        redis_ca_file=pem_files.ca,
    )


def test_plaintext_librdkafka_config() -> None:
    config = connections.kafka_config(Settings())
    assert {k: v for k, v in config.items() if k != "logger"} == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "plaintext",
    }


def test_sasl_ssl_librdkafka_config(secured: Settings, pem_files: PemFiles) -> None:
    config = connections.kafka_config(secured)
    assert {k: v for k, v in config.items() if k != "logger"} == {
        "bootstrap.servers": "b-1.example.com:9096,b-2.example.com:9096",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "scorestream",
        "sasl.password": SECRET,
        "ssl.ca.location": str(pem_files.ca),
        "ssl.certificate.location": str(pem_files.cert),
        "ssl.key.location": str(pem_files.key),
    }


def test_aiokafka_gets_a_verifying_context_with_the_client_certificate(secured: Settings) -> None:
    kwargs = connections.aiokafka_kwargs(secured)
    context = kwargs.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test CA"),),)]
    assert kwargs == {
        "bootstrap_servers": ["b-1.example.com:9096", "b-2.example.com:9096"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "scorestream",
        "sasl_plain_password": SECRET,
    }


def test_faust_gets_one_url_per_broker_and_sasl_credentials(secured: Settings) -> None:
    kwargs = connections.faust_app_kwargs(secured)
    assert kwargs["broker"] == ["kafka://b-1.example.com:9096", "kafka://b-2.example.com:9096"]
    credentials = kwargs["broker_credentials"]
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("scorestream", SECRET)
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert SECRET not in repr(credentials)


def test_faust_over_tls_without_sasl(pem_files: PemFiles) -> None:
    settings = Settings(kafka_security_protocol="SSL", kafka_ca_file=pem_files.ca)
    credentials = connections.faust_app_kwargs(settings)["broker_credentials"]
    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol.value == "SSL"


def test_faust_plaintext_has_no_credentials() -> None:
    assert connections.faust_app_kwargs(Settings()) == {
        "broker": ["kafka://127.0.0.1:9092"],
        "topic_replication_factor": 1,
    }


def test_faust_creates_its_topics_with_our_replication_factor() -> None:
    kwargs = connections.faust_app_kwargs(Settings(replication_factor=3))
    assert kwargs["topic_replication_factor"] == 3


async def test_redis_client_carries_the_acl_user_and_the_ca(
    secured: Settings, pem_files: PemFiles
) -> None:
    client = connections.redis_client(secured, socket_timeout=3)
    try:
        pool = client.connection_pool
        assert pool.connection_class is redis.asyncio.SSLConnection
        kwargs = pool.connection_kwargs
        assert (kwargs["username"], kwargs["password"]) == ("app", SECRET)
        assert kwargs["ssl_ca_certs"] == str(pem_files.ca)
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example.com", 6380, 2)
        assert kwargs["socket_timeout"] == 3
    finally:
        await client.aclose()


async def test_plain_redis_client_has_no_tls_options() -> None:
    client = connections.redis_client(Settings())
    try:
        assert client.connection_pool.connection_class is redis.asyncio.Connection
        assert "ssl_ca_certs" not in client.connection_pool.connection_kwargs
    finally:
        await client.aclose()
