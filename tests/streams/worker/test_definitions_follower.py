"""The worker's follower of scorecards.definitions, record by record (real Redis, no Kafka):
a version it can use goes in force; one it cannot leaves the one before, said in the log and
on /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio
from structlog.testing import capture_logs

from schemas.definition_version import DefinitionVersion
from schemas.scorecard_definition import load_definition
from schemas.settings import Settings
from scorers.versions import resolved
from sinks.redis_calls import RedisCalls
from sinks.redis_definitions import RedisDefinitionSink
from streams.admin.definitions_topic import Read
from streams.views.reading import RedisScorecardReader
from streams.worker.definitions import DefinitionFollower
from streams.worker.metrics import WorkerMetrics
from tests.sinks.redis_support import prefixed

pytestmark = pytest.mark.redis

DEFAULT = load_definition()


def version(number: int, **changes: object) -> DefinitionVersion:
    definition = DEFAULT.model_copy(update=changes)
    at = datetime(2026, 5, 1, 9, tzinfo=UTC)
    return DefinitionVersion.of(number, definition, note=f"v{number}", published_by="ops",
                                published_at=at)  # fmt: skip


@pytest.fixture(name="prefix")
async def fixture_prefix(redis_client: redis.asyncio.Redis) -> AsyncIterator[str]:
    async for prefix in prefixed(redis_client):
        yield prefix


def metric(metrics: WorkerMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


async def test_a_usable_version_goes_in_force_and_an_unusable_one_leaves_it(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    applied: list[tuple[int, int]] = []

    async def apply(v: DefinitionVersion, kept_days: int) -> None:
        applied.append((v.version, kept_days))

    metrics = WorkerMetrics()
    sink = RedisDefinitionSink(RedisCalls(redis_client), prefix)
    start = Read(resolved([version(1)]), end=1)
    follower = DefinitionFollower(Settings(), start, sink, metrics)
    assert metric(metrics, "scorestream_definition_version") == 1

    weights = version(2, default_monthly_quota=90_000.0)
    with capture_logs() as logs:
        await follower.read(weights.key, weights.to_bytes(), apply)
        tokyo = version(3, timezone="Asia/Tokyo")
        await follower.read(tokyo.key, tokyo.to_bytes(), apply)
        await follower.read(b"4", b"{not a version", apply)
    assert applied == [(2, 99)]
    assert follower.in_force == weights
    assert metric(metrics, "scorestream_definition_version") == 2
    assert metric(metrics, "scorestream_definition_latest_version") == 3
    assert metric(metrics, "scorestream_definitions_refused_total") == 2
    events = {entry["event"]: entry for entry in logs}
    assert events["definition_in_force"]["changes"] == [
        "default_monthly_quota: 60000 -> 90000"
    ]  # fmt: skip
    refused = events["definition_refused"]
    assert (refused["version"], refused["in_force"]) == (3, 2)
    assert refused["reason"].startswith("timezone 'Asia/Tokyo' is not 'UTC' (version 2 in force)")
    assert (
        "not a definition version this worker can read" in events["definition_unreadable"]["reason"]
    )
    reader = RedisScorecardReader(redis_client, prefix)
    assert await reader.definition_in_force() == 2
    assert [v.version for v in await reader.definition_versions()] == [2, 3]


async def test_a_version_whose_apply_failed_is_applied_when_read_again(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Applying raised (Redis refused a write, say): nothing is taken, so the follower,
    reading the record again after its retry, applies it then."""
    calls: list[int] = []

    async def apply(v: DefinitionVersion, kept_days: int) -> None:
        calls.append(v.version)
        if len(calls) == 1:
            raise RuntimeError("refused")

    sink = RedisDefinitionSink(RedisCalls(redis_client), prefix)
    follower = DefinitionFollower(
        Settings(), Read(resolved([version(1)]), end=1), sink, WorkerMetrics()
    )
    weights = version(2, default_monthly_quota=90_000.0)
    with pytest.raises(RuntimeError):
        await follower.read(weights.key, weights.to_bytes(), apply)
    assert follower.in_force.version == 1
    await follower.read(weights.key, weights.to_bytes(), apply)
    assert calls == [2, 2] and follower.in_force == weights


async def test_a_version_with_shorter_windows_is_applied_keeping_the_days_kept_before(
    redis_client: redis.asyncio.Redis, prefix: str
) -> None:
    """Two short windows need 44 days, but the workers go on keeping 99: the shipped
    scorecard published again after it is exact, and goes in force keeping 99 too."""
    applied: list[tuple[int, int]] = []

    async def apply(v: DefinitionVersion, kept_days: int) -> None:
        applied.append((v.version, kept_days))

    sink = RedisDefinitionSink(RedisCalls(redis_client), prefix)
    follower = DefinitionFollower(
        Settings(), Read(resolved([version(1)]), end=1), sink, WorkerMetrics()
    )
    short, again = version(2, windows=["7d", "30d"]), version(3)
    assert short.definition.kept_days() < 99
    for v in (short, again):
        await follower.read(v.key, v.to_bytes(), apply)
    assert applied == [(2, 99), (3, 99)] and follower.in_force == again
