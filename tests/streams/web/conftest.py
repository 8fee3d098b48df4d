"""A board of five reps in two teams, with histories and alerts, under a private prefix."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime

import orjson
import pytest
import redis.asyncio

from schemas.definition_version import DefinitionVersion
from schemas.outputs import CoachingAlert
from schemas.scorecard_definition import load_definition, parse_definition
from schemas.settings import Settings
from sinks.redis_alerts import append_alert
from sinks.redis_calls import RedisCalls
from sinks.redis_definitions import RedisDefinitionSink
from sinks.redis_keys import RedisKeys
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OpenIdProvider
from tests.sinks.redis_support import AS_OF, card, delete_prefix, new_prefix, write_cards
from tests.streams.web.web_support import served, serving

TOKEN = "a-long-enough-test-token"


def _versions() -> tuple[DefinitionVersion, DefinitionVersion]:
    """The shipped scorecard as version 1, then version 2 with more weight on customers."""
    first = load_definition()
    data = first.model_dump(mode="json")
    data["perspectives"]["customer"]["weight"] = 0.4
    data["kpis"]["nps"]["target"] = {"absolute": 40}
    at = datetime(2026, 3, 10, 9, tzinfo=UTC)
    return (
        DefinitionVersion.of(1, first, note="", published_by="ops", published_at=at),
        DefinitionVersion.of(
            2, parse_definition(data), note="Customers first this quarter",
            published_by="maria", published_at=at.replace(day=11),
        ),
    )  # fmt: skip


VERSIONS = _versions()


def alert(alert_id: str, rep_id: str, text: str, team_id: str = "north") -> CoachingAlert:
    return CoachingAlert(
        alert_id=alert_id, rule="no_calls", kind="inactivity", severity="info", rep_id=rep_id,
        team_id=team_id, window=None, period="2026-03-09", as_of=date(2026, 3, 11), evidence={},
        text=text, raised_at=datetime(2026, 3, 11, 9, tzinfo=UTC),
    )  # fmt: skip


async def _write_board(redis_url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        # Yesterday: ana led. Today: ana and bob tie at 100, bob further past target.
        yesterday = [
            card("ana", "north", 90.0, as_of=AS_OF - 1),
            card("bob", "north", 70.0, as_of=AS_OF - 1),
        ]
        await write_cards(client, prefix, yesterday)
        today = [
            card("ana", "north", 100.0, uncapped=104.0, version=2),
            card("bob", "north", 100.0, uncapped=131.5, version=2),
            card("cyd", "south", 70.0, revenue=5_000.0, cycle_days=40.0, version=2),
            card("dan", "south", 80.0, window="7d", version=2),
            card("dan", "south", 60.0, version=2),
            card(None, "north", 88.0, version=2),
            card(None, "south", 66.0, version=2),
        ]
        await write_cards(client, prefix, today, replacing=yesterday)
        versions = RedisDefinitionSink(RedisCalls(client), prefix)
        await versions.record(VERSIONS)
        await versions.in_force(2)
        keys = RedisKeys(prefix)
        await append_alert(client, keys, alert("a1", "ana", "No calls for 3 days."))
        await append_alert(client, keys, alert("a2", "cyd", "Customers are unhappy.", "south"))
    finally:
        await client.aclose()


@pytest.fixture(name="prefix")
def fixture_prefix(redis_url: str) -> Iterator[str]:
    prefix = new_prefix()
    asyncio.run(_write_board(redis_url, prefix))
    yield prefix

    async def cleanup() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await delete_prefix(client, prefix)
        await client.aclose()

    asyncio.run(cleanup())


@pytest.fixture(name="env")
def fixture_env(redis_url: str, prefix: str) -> dict[str, str]:
    """The environment the CLI reads: the same Redis and prefix as the server."""
    return {"SCORESTREAM_REDIS_URL": redis_url, "SCORESTREAM_REDIS_PREFIX": prefix}


@pytest.fixture(name="base")
def fixture_base(env: dict[str, str]) -> Iterator[str]:
    with served(Settings.from_env(env)) as base:
        yield base


@pytest.fixture(name="guarded")
def fixture_guarded(env: dict[str, str]) -> Iterator[str]:
    """The same server with a web token."""
    with served(Settings.from_env({**env, "SCORESTREAM_WEB_TOKEN": TOKEN})) as base:
        yield base


@pytest.fixture(name="provider")
def fixture_provider() -> Iterator[OpenIdProvider]:
    provider = OpenIdProvider()
    with serving(provider.app()) as base:
        provider.base = base
        yield provider


@pytest.fixture(name="web")
def fixture_web(env: dict[str, str], provider: OpenIdProvider, redis_url: str, prefix: str
                ) -> Iterator[str]:  # fmt: skip
    """A server with sign-in through ``provider`` and a directory: ana@x.com is rep ana of
    north, mia@x.com manages north; boss@x.com is an admin by settings."""

    async def directory() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        people = {"ana": {"team_id": "north", "email": "ana@x.com", "manager_email": "mia@x.com"},
                  "bob": {"team_id": "north", "email": "bob@x.com", "manager_email": "mia@x.com"},
                  "cyd": {"team_id": "south", "email": "cyd@x.com"}}  # fmt: skip
        for rep, entry in people.items():
            await client.hset(RedisKeys(prefix).directory, rep, orjson.dumps(entry))
        await client.aclose()

    asyncio.run(directory())
    oidc = {"SCORESTREAM_OIDC_ISSUER": provider.base, "SCORESTREAM_OIDC_CLIENT_ID": CLIENT_ID,
            "SCORESTREAM_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "SCORESTREAM_WEB_ADMINS": "boss@x.com"}  # fmt: skip
    with served(Settings.from_env({**env, **oidc})) as base:
        yield base
