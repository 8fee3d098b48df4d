"""Shared fixtures: where the real Kafka and Redis are, and throwaway topics per test.

Integration tests talk to the servers `make up` starts (scripts/kafka.sh,
scripts/redis.sh), at the addresses in ``Settings.from_env()``. A server that
does not answer fails the test with the fix (`make up`), never skips it: a
skipped integration test reads as green in CI.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

import pytest
import redis
import redis.asyncio
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.settings import Settings
from tests.pem_files import PemFiles, make_pem_files

MakeTopic = Callable[..., str]
"""``make_topic(partitions=3, config=None) -> name``: a new topic, deleted after the test."""


@pytest.fixture(scope="session", name="settings")
def fixture_settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session", name="kafka_admin")
def fixture_kafka_admin(settings: Settings) -> AdminClient:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    try:
        metadata = admin.list_topics(timeout=15)
    except KafkaException as exc:
        pytest.fail(f"Kafka at {settings.kafka_bootstrap} does not answer ({exc}); run `make up`")
    if not metadata.brokers:
        pytest.fail(f"Kafka at {settings.kafka_bootstrap} lists no broker; run `make up`")
    return admin


@pytest.fixture(scope="session", name="kafka_bootstrap")
def fixture_kafka_bootstrap(settings: Settings, kafka_admin: AdminClient) -> str:
    """The bootstrap address of a broker that answered a metadata request."""
    return settings.kafka_bootstrap


@pytest.fixture(scope="session", name="redis_url")
def fixture_redis_url(settings: Settings) -> str:
    """The URL of a Redis that answered PING."""
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {settings.redis_url} does not answer PING ({exc}); run `make up`")
    finally:
        client.close()
    return settings.redis_url


@pytest.fixture(name="redis_client")
async def fixture_redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(name="make_topic")
def fixture_make_topic(
    kafka_admin: AdminClient, request: pytest.FixtureRequest
) -> Iterator[MakeTopic]:
    """Topics unique to this test (tests never see each other's messages), deleted afterwards."""
    created: list[str] = []

    def make(partitions: int = 3, config: Mapping[str, str] | None = None) -> str:
        name = f"test.{_slug(request.node.name)[:80]}.{uuid.uuid4().hex[:8]}"
        futures = kafka_admin.create_topics(
            [
                NewTopic(
                    name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
                )
            ],
            operation_timeout=30,
        )
        futures[name].result(timeout=35)
        created.append(name)
        wait_for_topic(kafka_admin, name, partitions)
        return name

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            future.result(timeout=35)


@pytest.fixture(scope="session", name="pem_files")
def fixture_pem_files(tmp_path_factory: pytest.TempPathFactory) -> PemFiles:
    """A CA, a client certificate and key it signed, and TLS files that must not load."""
    return make_pem_files(tmp_path_factory.mktemp("pem"))


def wait_for_topic(admin: AdminClient, name: str, partitions: int, timeout_s: float = 30) -> None:
    """Block until every partition of the topic has a leader, so clients never race creation."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topic = admin.list_topics(topic=name, timeout=10).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(
        f"topic {name} has no leader for all {partitions} partitions after {timeout_s}s"
    )


def _slug(text: str) -> str:
    """A test name as a safe topic/key fragment (Kafka allows [A-Za-z0-9._-]; avoid '_' vs '.')."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-").lower()
