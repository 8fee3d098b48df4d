"""``scorestream tail`` against the real Kafka: what it prints, where it starts, how it ends.

The --from-beginning tests point the command at a topic private to the test, so old
messages on the shared crm.dlq never count; the real crm.dlq and scorecards.alerts
are tailed from their end, which no earlier message can disturb. Processes of their
own where signals and "starts at the end" are the point.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
import pytest
import typer
from confluent_kafka import Producer
from typer.testing import CliRunner

from schemas import topics
from schemas.settings import Settings
from streams.admin.topic_admin import create_topics
from streams.cli import tail as tail_cli
from streams.cli.tail import Stream, format_alert, format_dead_letter, format_update, tail
from tests.conftest import MakeTopic

app = typer.Typer()
app.command("tail")(tail)
app.command("unused")(lambda: None)  # two commands: `tail` stays a subcommand name
runner = CliRunner()


def dead_letter(offset: int, reason: str, marker: str = "", detail: str = "d") -> dict[str, Any]:
    return {
        "topic": "crm.deals",
        "partition": 2,
        "offset": offset,
        "key": "rep-7",
        "reason": reason,
        "detail": detail,
        "failed_at": "2026-03-10T10:00:00Z",
        "original": "e30=",
        "original_text": f"{{{marker}}}",
    }


def produce(
    bootstrap: str, topic: str, values: list[bytes], keys: list[bytes] | None = None
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce(topic, value=value, key=None if keys is None else keys[i])
    assert producer.flush(15) == 0


@pytest.fixture(name="private_dlq")
def fixture_private_dlq(make_topic: MakeTopic, monkeypatch: pytest.MonkeyPatch) -> str:
    """`tail dlq` reads a fresh topic of this test instead of the shared crm.dlq."""
    name = make_topic(partitions=3)
    monkeypatch.setitem(tail_cli.TOPIC_OF_STREAM, Stream.DLQ, name)
    return name


@pytest.mark.kafka
def test_from_beginning_json_prints_each_value_as_a_json_line(
    kafka_bootstrap: str, private_dlq: str
) -> None:
    letters = [dead_letter(17, "score: Input should be <= 10"), dead_letter(18, "invalid JSON")]
    # Different keys: the two land on any partitions; --from-beginning must read them all.
    produce(kafka_bootstrap, private_dlq, [orjson.dumps(x) for x in letters], [b"rep-7", b"rep-8"])

    result = runner.invoke(app, ["tail", "dlq", "--from-beginning", "--limit", "2", "--json"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert sorted((orjson.loads(line) for line in lines), key=lambda d: d["offset"]) == letters
    assert f"tailing {private_dlq} (3 partitions) from the beginning" in result.stderr


@pytest.mark.kafka
def test_from_beginning_readable_prints_where_and_why(
    kafka_bootstrap: str, private_dlq: str
) -> None:
    values = [
        orjson.dumps(dead_letter(17, "score: Input should be less than or equal to 10")),
        b"not json at all",
    ]
    produce(kafka_bootstrap, private_dlq, values, [b"k", b"k"])  # same key: in this order

    result = runner.invoke(app, ["tail", "dlq", "--from-beginning", "--limit", "2"])

    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert "crm.deals/2@17  key=rep-7  score: Input should be less than or equal to 10" in first
    assert first[:4].isdigit() and first[19] == "Z"  # starts with the record time, UTC
    assert f"{private_dlq}/" in second and "(not a JSON object) not json at all" in second


@pytest.mark.kafka
def test_without_from_beginning_older_messages_are_not_shown(
    kafka_bootstrap: str, private_dlq: str
) -> None:
    produce(kafka_bootstrap, private_dlq, [orjson.dumps(dead_letter(1, "old"))])
    proc = _start("dlq", "--limit", "1", "--json", env={"PRIVATE_TOPIC": private_dlq})
    try:
        _wait_until_tailing(proc)
        produce(kafka_bootstrap, private_dlq, [orjson.dumps(dead_letter(2, "new"))])
        out, err = proc.communicate(timeout=20)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err
    assert [orjson.loads(line)["reason"] for line in out.splitlines()] == ["new"]


@pytest.mark.kafka
def test_real_dead_letter_topic_from_the_end(settings: Settings, kafka_bootstrap: str) -> None:
    """On the real crm.dlq: shows what is produced after it started, then stops at --limit."""
    assert create_topics(settings, settings.partitions).ok
    marker = uuid.uuid4().hex
    proc = _start("dlq", "--limit", "2", "--json")
    try:
        _wait_until_tailing(proc)
        produce(
            kafka_bootstrap,
            topics.DLQ,
            [orjson.dumps(dead_letter(i, f"{marker}-{i}")) for i in (1, 2)],
            [b"rep-1", b"rep-1"],
        )
        out, err = proc.communicate(timeout=20)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err
    assert [orjson.loads(line)["reason"] for line in out.splitlines()] == [
        f"{marker}-1",
        f"{marker}-2",
    ]


@pytest.mark.kafka
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_end_it_with_exit_0(
    settings: Settings, kafka_bootstrap: str, sig: signal.Signals
) -> None:
    assert create_topics(settings, settings.partitions).ok
    proc = _start("alerts")
    try:
        _wait_until_tailing(proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_kafka_down_names_the_address_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tail_cli, "METADATA_TIMEOUT_S", 1.0)
    result = runner.invoke(
        app, ["tail", "alerts"], env={"SCORESTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    )
    assert result.exit_code == 2
    assert "Kafka at 127.0.0.1:1 did not answer" in result.stderr
    assert "make up" in result.stderr
    assert result.stdout == ""


def test_registered_as_scorestream_tail() -> None:
    from streams.cli.main import app as scorestream

    result = runner.invoke(scorestream, ["tail", "--help"])
    assert result.exit_code == 0, result.output
    assert "--from-beginning" in result.stdout


# --- the readable lines, from whatever fields a message has --------------------------------


def test_alert_line() -> None:
    alert = {
        "alert_id": "a1",
        "rule": "win_rate_low",
        "severity": "warning",
        "rep_id": "ana",
        "team_id": "north",
        "window": "30d",
        "text": "Win rate 12% is below\nthe 25% target",
        "evidence": {"win_rate": 0.12},
        "as_of": "2026-03-10",
    }
    assert format_alert(alert) == (
        "WARNING   ana (north)  win_rate_low [30d]  Win rate 12% is below the 25% target"
    )


def test_update_line() -> None:
    update = {
        "rep_id": "ana",
        "team_id": "north",
        "window": "7d",
        "as_of": "2026-03-10",
        "overall": 71.24,
        "change": {"overall": -3.4},
        "cause": {"kind": "deal_lost", "event_id": "e-9"},
    }
    assert format_update(update) == "ana (north)  7d  overall 71.2 (-3.4)  cause deal_lost e-9"


def test_dead_letter_line_shortens_the_original() -> None:
    letter = dead_letter(5, "invalid_json", detail="not valid JSON") | {"original_text": "x" * 100}
    line = format_dead_letter(letter)
    assert line.startswith("crm.deals/2@5  key=rep-7  invalid_json: not valid JSON  | xxx")
    assert line.endswith("…") and len(line.split("| ")[1]) == 60


def test_missing_fields_are_question_marks_never_errors() -> None:
    assert format_alert({}) == "?         ?  ? [?]  ?"
    assert format_update({"rep_id": "bob"}) == "bob  ?  overall ? (new)  cause ?"
    assert format_update({"team_id": "t", "change": {}, "overall": None}) == (
        "team t  ?  overall ? (?)  cause ?"
    )
    assert format_dead_letter({"reason": "r"}) == "?/?@?  key=?  r: ?"


# --- helpers -----------------------------------------------------------------------------

_TAIL_SCRIPT = """
import os, signal, sys
import typer
# As from a terminal: a test run started in the background (a shell's `&`, nohup) ignores
# SIGINT, and a Python started so never turns Ctrl-C into KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)
from streams.cli import tail as tail_cli
if "PRIVATE_TOPIC" in os.environ:
    tail_cli.TOPIC_OF_STREAM[tail_cli.Stream.DLQ] = os.environ["PRIVATE_TOPIC"]
app = typer.Typer()
app.command("tail")(tail_cli.tail)
app.command("unused")(lambda: None)
app()
"""


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``tail ARGS`` in a process of its own, on a private topic when env names one."""
    return subprocess.Popen(
        [sys.executable, "-c", _TAIL_SCRIPT, "tail", *args],
        env={**os.environ, "SCORESTREAM_LOG_FORMAT": "json", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_tailing(proc: subprocess.Popen[str], timeout_s: float = 20.0) -> None:
    """Wait for the "tailing ..." status line: from then on every new message is shown."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if line.startswith("tailing "):
                return
            if not line and proc.poll() is not None:
                break
    pytest.fail(f"tail did not start in {timeout_s:g}s; stderr:\n{seen}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
