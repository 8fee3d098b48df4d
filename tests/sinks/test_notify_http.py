"""Each channel's request against a real HTTP receiver: the documented shapes, the
Standard Webhooks signature (the spec's published vector), and what each answer means."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from schemas.outputs import CoachingAlert
from schemas.routes import EmailChannel
from sinks.exceptions import Refused, RetryLater
from sinks.notify_email import digest_message
from sinks.notify_http import retry_after_s
from sinks.notify_slack import (
    FIELDS_PER_SECTION,
    HEADER_CHARS,
    MAX_BLOCKS,
    SECTION_CHARS,
    SlackSender,
    slack_digest,
    slack_message,
)
from sinks.notify_teams import ADAPTIVE_CARD, TeamsSender, digest_card
from sinks.notify_webhook import StandardWebhookSender, signature
from tests.notify_receiver import Answer, always, receiver
from tests.sinks.alerts import make_alert

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_signature_matches_the_specifications_published_vector() -> None:
    """The vector of the Standard Webhooks reference library's tests: same id, timestamp,
    payload and secret give the same signature, so any conforming receiver accepts ours."""
    assert signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
        b'{"test": 2432232314}',
    ) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="  # fmt: skip


async def test_a_webhook_is_the_alert_json_signed_with_its_id() -> None:
    alert = make_alert()
    with receiver() as hook:
        async with httpx.AsyncClient() as client:
            await StandardWebhookSender(client, hook.url, SECRET, 5).send(alert)
    (got,) = hook.requests
    assert got.headers["webhook-id"] == alert.alert_id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    assert got.headers["content-type"] == "application/json"
    # The receiver's side: the spec's library verifies it and hands back the alert.
    verified = Webhook(SECRET).verify(got.body, got.headers)
    assert CoachingAlert.model_validate(verified) == alert
    with pytest.raises(Exception, match="No matching signature"):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(got.body, got.headers)


async def test_slack_gets_block_kit_within_its_limits() -> None:
    evidence = {f"kpi_{i}": float(i) for i in range(12)}
    alert = make_alert(evidence=evidence, text="x" * 5000, rule="r" * 200)
    with receiver() as slack:
        async with httpx.AsyncClient() as client:
            await SlackSender(client, slack.url, 5, "http://127.0.0.1:8000").send(alert)
    message = orjson.loads(slack.requests[0].body)
    blocks = message["blocks"]
    assert message["text"]  # what notifications show
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= HEADER_CHARS
    assert blocks[0]["text"]["type"] == "plain_text"
    assert len(blocks[1]["text"]["text"]) == SECTION_CHARS  # cut, not refused by Slack
    fields = [b["fields"] for b in blocks if "fields" in b]
    assert all(len(f) <= FIELDS_PER_SECTION for f in fields)
    assert sum(len(f) for f in fields) == 6 + 12  # rep, team, rule, severity, as of, window
    assert "<http://127.0.0.1:8000/reps/rep-007|" in blocks[-1]["elements"][0]["text"]
    small = orjson.loads(_slack_body(make_alert()))
    assert "&lt;below&gt; &amp; under" in small["blocks"][1]["text"]["text"]  # mrkdwn escaped


def _slack_body(alert: CoachingAlert) -> bytes:
    return orjson.dumps(slack_message(alert, None))


async def test_teams_gets_an_adaptive_card_in_a_message() -> None:
    alert = make_alert()
    with receiver() as teams:
        async with httpx.AsyncClient() as client:
            await TeamsSender(client, teams.url, 5, "http://127.0.0.1:8000").send(alert)
    message = orjson.loads(teams.requests[0].body)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Rep"] == "rep-007" and facts["nps"] == "-100" and facts["responses"] == "6"
    assert card["actions"][0]["url"] == "http://127.0.0.1:8000/reps/rep-007"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(429, {"Retry-After": "7"}), RetryLater),
        (Answer(503), RetryLater),
        (Answer(500), RetryLater),
        (Answer(404, body=b"no such hook"), Refused),
        (Answer(400, body=b"invalid_blocks"), Refused),
        (Answer(200, delay_s=2.0), RetryLater),  # past the timeout
    ],
)
async def test_answers_become_typed_failures(answer: Answer, expected: type[Exception]) -> None:
    with receiver(always(answer)) as hook:
        async with httpx.AsyncClient() as client:
            with pytest.raises(expected) as caught:
                await StandardWebhookSender(client, hook.url, SECRET, 0.5).send(make_alert())
    if isinstance(caught.value, Refused):
        assert caught.value.answer == answer.body.decode()
        assert hook.url not in str(caught.value)  # the URL's path is a secret
    if answer.status == 429:
        assert isinstance(caught.value, RetryLater) and caught.value.retry_after_s == 7.0


async def test_an_unreachable_receiver_is_retry_later() -> None:
    with receiver() as hook:
        url = hook.url
    async with httpx.AsyncClient() as client:
        with pytest.raises(RetryLater, match="cannot reach"):
            await StandardWebhookSender(client, url, SECRET, 1).send(make_alert())


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    assert retry_after_s("120") == 120.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_digests_keep_each_formats_limits() -> None:
    """Slack: at most 50 blocks, the rest counted; Teams: a card with every alert; e-mail:
    both parts, one Message-ID for the same alerts."""
    alerts = [make_alert(alert_id=f"x{i}", rep_id=f"rep-{i}") for i in range(60)]
    slack = slack_digest(alerts, "http://127.0.0.1:8000")
    assert len(slack["blocks"]) == MAX_BLOCKS
    assert slack["blocks"][0]["text"]["text"] == "Coaching digest: 60 alerts"
    assert slack["blocks"][-1]["elements"][0]["text"] == "and 12 more on the alerts page"
    assert "<http://127.0.0.1:8000/reps/rep-0|rep-0>" in slack["blocks"][1]["text"]["text"]
    card = digest_card(alerts[:2], None)
    assert [b["text"] for b in card["body"][2::2]] == [f"rep-{i}: {alerts[i].text}" for i in (0, 1)]
    mail = EmailChannel.model_validate({"type": "email", "host": "h", "from": "a@example.com",
                                        "to": ["b@example.com"]})  # fmt: skip
    first, again = (digest_message(alerts[:2], mail, None, "c") for _ in range(2))
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Subject"] == "Coaching digest: 2 alerts"
    assert {p.get_content_type() for p in first.walk()} >= {"text/plain", "text/html"}
