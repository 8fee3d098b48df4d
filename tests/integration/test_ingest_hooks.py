"""The gateway's doors on the real Kafka: keys and signatures before anything is stored,
HubSpot and Salesforce payloads through their presets to the topics, Salesforce's Ack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas import topics
from schemas.events import RepUpserted, event_to_json
from schemas.settings import Settings
from scorers.ingest.signatures import hubspot_v3_signature
from tests.integration.ingest_harness import (
    HUBSPOT_SECRET,
    INGEST_KEY,
    SALESFORCE_SECRET,
    Ingest,
    ingest,
    topic_ends,
)
from tests.integration.worker_harness import System, produce_lines
from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.kafka]

EXAMPLES = REPO_ROOT / "docs" / "examples" / "hooks"
CALL = orjson.dumps(
    {
        "event_type": "call_logged",
        "event_id": "c-1",
        "rep_id": "rep-ada",
        "occurred_at": "2026-12-01T10:00:00Z",
        "call_id": "c-1",
        "duration_seconds": 30,
        "outcome": "connected",
    }
)


@pytest.fixture(scope="module", name="gateway")
def fixture_gateway(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ingest]:
    tmp = tmp_path_factory.mktemp("ingest")
    System.fresh(settings, tmp)
    ada = RepUpserted(
        event_id="dir-ada",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        rep_id="rep-ada",
        team_id="team-1",
        name="Ada",
        crm_owner_ids={"hubspot": "4711", "salesforce": "0055g00000AbCdEAAV"},
    )
    produce_lines(settings.kafka_bootstrap, [event_to_json(ada)])
    with ingest(settings.kafka_bootstrap, tmp) as gateway:
        yield gateway


def signed(
    gateway: Ingest, body: bytes, *, secret: str = HUBSPOT_SECRET, at_ms: int | None = None
) -> dict[str, str]:
    timestamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    uri = gateway.url + "/v1/hooks/hubspot"
    return {
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": hubspot_v3_signature(secret, "POST", uri, body, timestamp),
    }


def test_no_key_wrong_key_or_bad_signature_is_401_and_stores_nothing(
    gateway: Ingest, settings: Settings
) -> None:
    before = topic_ends(settings.kafka_bootstrap)
    hook = (EXAMPLES / "hubspot-deal-won.json").read_bytes()
    answers = [
        gateway.post(CALL, key=None),
        gateway.post(CALL, key="wrong-key-0123456789abc"),
        gateway.post(CALL, key=INGEST_KEY[:-1]),
        gateway.post(CALL, key=None, headers={"authorization": f"Basic {INGEST_KEY}"}),
        gateway.post(CALL, key=None, headers={"authorization": "Bearer"}),
        gateway.post(hook, path="/v1/hooks/hubspot", key=None, content_type="application/json"),
        gateway.post(
            hook,
            path="/v1/hooks/hubspot",
            key=None,
            content_type="application/json",
            headers=signed(gateway, hook, secret="another-secret"),
        ),
        gateway.post(
            hook,
            path="/v1/hooks/hubspot",
            key=None,
            content_type="application/json",
            headers=signed(gateway, hook + b" "),
        ),  # the body changed after signing
        gateway.post(
            hook,
            path="/v1/hooks/hubspot",
            key=None,
            content_type="application/json",
            headers=signed(gateway, hook, at_ms=int(time.time() * 1000) - 301_000),
        ),
        gateway.post(
            hook, path="/v1/hooks/salesforce?key=nope", key=None, content_type="application/json"
        ),
        # An ingest key is not a hook's secret.
        gateway.post(hook, path="/v1/hooks/salesforce", content_type="application/json"),
    ]
    assert [a.status_code for a in answers] == [401] * len(answers), [a.text for a in answers]
    assert all(INGEST_KEY not in a.text and HUBSPOT_SECRET not in a.text for a in answers)
    assert (
        gateway.post(
            CALL, path="/v1/hooks/nosuch", content_type="application/json", key=None
        ).status_code
        == 404
    )
    time.sleep(1)
    assert topic_ends(settings.kafka_bootstrap) == before
    log = gateway.log.read_text()
    assert INGEST_KEY not in log and HUBSPOT_SECRET not in log


def test_hubspot_hook_stores_the_mapped_event_and_refuses_its_replay(
    gateway: Ingest, settings: Settings
) -> None:
    before = topic_ends(settings.kafka_bootstrap, (topics.DEALS,))[topics.DEALS]
    body = (EXAMPLES / "hubspot-deal-won.json").read_bytes()
    headers = signed(gateway, body)
    answer = gateway.post(
        body, path="/v1/hooks/hubspot", key=None, content_type="application/json", headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "rejected": []}
    assert topic_ends(settings.kafka_bootstrap, (topics.DEALS,))[topics.DEALS] == before + 1
    replayed = gateway.post(
        body, path="/v1/hooks/hubspot", key=None, content_type="application/json", headers=headers
    )
    assert replayed.status_code == 401 and "replay" in replayed.text


def test_hubspot_unknown_owner_is_named(gateway: Ingest) -> None:
    payload = orjson.loads((EXAMPLES / "hubspot-call.json").read_bytes())
    payload["properties"]["hubspot_owner_id"] = "9999"
    body = orjson.dumps(payload)
    answer = gateway.post(
        body,
        path="/v1/hooks/hubspot",
        key=None,
        content_type="application/json",
        headers=signed(gateway, body),
    )
    assert answer.status_code == 200
    [rejection] = answer.json()["rejected"]
    assert rejection["reason"] == "unknown_owner" and "9999" in rejection["errors"][0]


def test_salesforce_outbound_message_gets_its_ack_after_the_events_are_stored(
    gateway: Ingest, settings: Settings
) -> None:
    before = topic_ends(settings.kafka_bootstrap, (topics.DEALS, topics.CALLS))
    body = (EXAMPLES / "salesforce-opportunity.xml").read_bytes()
    answer = gateway.post(
        body,
        path=f"/v1/hooks/salesforce?key={SALESFORCE_SECRET}",
        key=None,
        content_type="text/xml; charset=utf-8",
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    assert b"<Ack>true</Ack>" in answer.content and b"notificationsResponse" in answer.content
    after = topic_ends(settings.kafka_bootstrap, (topics.DEALS, topics.CALLS))
    assert after == {topics.DEALS: before[topics.DEALS] + 1, topics.CALLS: before[topics.CALLS] + 1}
    flow = gateway.post(
        (EXAMPLES / "salesforce-flow.json").read_bytes(),
        path="/v1/hooks/salesforce",
        key=SALESFORCE_SECRET,
        content_type="application/json",
    )
    assert flow.json() == {"accepted": 1, "rejected": []}


def test_health_metrics_and_openapi(gateway: Ingest) -> None:
    import httpx

    assert httpx.get(gateway.url + "/healthz").json()["kafka"] == "up"
    gateway.post(CALL, key=None)  # a 401 of /v1/events
    for n in range(5):  # 404s at paths of the caller's choosing: no series of their own
        gateway.post(CALL, path=f"/v1/hooks/probe{n}", key=None, content_type="application/json")
    metrics = httpx.get(gateway.url + "/metrics").text
    assert "scorestream_ingest_accepted_total" in metrics
    assert 'scorestream_ingest_requests_refused_total{source="events",status="401"}' in metrics
    assert 'scorestream_ingest_requests_refused_total{source="unknown",status="404"}' in metrics
    assert "probe" not in metrics
    document = httpx.get(gateway.url + "/openapi.json").json()
    events = document["paths"]["/v1/events"]["post"]
    assert set(events["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert {"200", "401", "413", "415", "429", "503"} <= set(events["responses"])
    assert "DealWon" in document["components"]["schemas"]
    assert "5000000 bytes and 10000 events" in document["info"]["description"]


def test_rate_limit_answers_429_with_retry_after(settings: Settings, tmp_path: Path) -> None:
    with ingest(settings.kafka_bootstrap, tmp_path, SCORESTREAM_INGEST_RATE_PER_S="1") as gateway:
        statuses = [gateway.post(b"", content_type="application/x-ndjson") for _ in range(4)]
    assert [s.status_code for s in statuses][:2] == [200, 200]
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["retry-after"]) >= 1


def test_a_hook_payload_past_the_events_limit_is_413_and_stores_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    """The Outbound Message holds two records (an Opportunity and a Task): with a limit of
    one event a request it is refused whole, as a body of our own contract would be."""
    env = {"SCORESTREAM_INGEST_MAX_EVENTS": "1"}
    with ingest(settings.kafka_bootstrap, tmp_path, **env) as gateway:
        before = topic_ends(settings.kafka_bootstrap, (topics.DEALS, topics.CALLS))
        answer = gateway.post(
            (EXAMPLES / "salesforce-opportunity.xml").read_bytes(),
            path=f"/v1/hooks/salesforce?key={SALESFORCE_SECRET}",
            key=None,
            content_type="text/xml; charset=utf-8",
        )
        assert answer.status_code == 413, answer.text
        assert "2 events in one request; send at most 1" in answer.text
        assert topic_ends(settings.kafka_bootstrap, (topics.DEALS, topics.CALLS)) == before
