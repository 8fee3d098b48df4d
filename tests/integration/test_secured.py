"""The whole product against secured Kafka and Redis, and what a wrong secret does.

`make up SECURE=1` (which `make test` runs) adds a SASL_SSL listener to the broker
(SCRAM-SHA-512 and a client certificate from the local CA) and a TLS port with an ACL user
to Redis, and writes `.local/secure.env`. Everything here goes through the `scorestream`
command with only those variables, as a user would: reset, topics, simulate, the worker,
show, tail. Then nothing any of it printed may contain a password.

Failures run against the same real servers: a wrong password or an untrusted certificate
must end each command that connects with the variable to check, never hang or retry.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import topics
from tests.integration.worker_harness import SCORESTREAM, STOP_TIMEOUT_S, wait_until
from tests.paths import REPO_ROOT
from tests.pem_files import PemFiles
from tests.redis_server import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SECURE_ENV = Path(os.environ.get("SECURE_ENV_FILE", REPO_ROOT / ".local" / "secure.env"))
COMMAND_TIMEOUT_S = 30.0
"""A command that connects ends within this, whatever the secret (else the test fails)."""
WRONG = "not-the-Pa55word"
SIMULATION = ["simulate", "--days", "30", "--end", "2026-05-31", "--seed", "7", "--teams",
              "2", "--reps-per-team", "3", "--malformed-share", "0.02", "--no-progress",
              "--json"]  # fmt: skip


@pytest.fixture(scope="module", name="secure_env")
def fixture_secure_env() -> dict[str, str]:
    """The SCORESTREAM_* variables of `.local/secure.env`, checked to name secured endpoints."""
    if not SECURE_ENV.exists():
        pytest.fail(f"{SECURE_ENV} is missing: run `make up SECURE=1` (`make test` does)")
    values = dict(
        line.split("=", 1)
        for line in SECURE_ENV.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert values["SCORESTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert values["SCORESTREAM_REDIS_URL"].startswith("rediss://")
    return values


@dataclass
class Secured:
    """Runs `scorestream` with the secured settings only, keeping everything it printed."""

    settings: dict[str, str]
    tmp_path: Path
    run_id: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    printed: list[str] = field(default_factory=list)

    @property
    def secrets(self) -> tuple[str, str]:
        return (
            self.settings["SCORESTREAM_KAFKA_PASSWORD"],
            self.settings["SCORESTREAM_REDIS_PASSWORD"],
        )

    def env(self, **changes: str | None) -> dict[str, str]:
        """This process's environment without its own SCORESTREAM_* (the plaintext servers)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCORESTREAM_")}
        env |= self.settings
        env |= {"SCORESTREAM_REDIS_PREFIX": self.run_id, "SCORESTREAM_LOG_FORMAT": "json"}
        for name, value in changes.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def cli(
        self, *args: str, ok: bool = True, **changes: str | None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [SCORESTREAM, *args], env=self.env(**changes), capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT_S * 2 if ok else COMMAND_TIMEOUT_S,
        )  # fmt: skip
        self.printed += [done.stdout, done.stderr]
        if ok:
            assert done.returncode == 0, f"{' '.join(args)}:\n{self.masked(done.stderr)[-3000:]}"
        return done

    @contextmanager
    def worker(self) -> Iterator[Path]:
        """`scorestream worker --clock event` on the secured endpoints; its log's path."""
        log_path = self.tmp_path / "worker.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [SCORESTREAM, "worker", "--clock", "event", "--data-dir",
                 str(self.tmp_path / "worker"), "--app-id", self.run_id,
                 "--web-port", str(free_port())],
                env=self.env(), stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                yield log_path
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.printed.append(log_path.read_text(errors="replace"))
        assert proc.returncode == 0, (
            f"worker exit {proc.returncode}:\n{self.masked(self.printed[-1])[-3000:]}"
        )

    def masked(self, text: str) -> str:
        """``text`` fit for a failure message: a leaked password would land in CI's log."""
        for secret in self.secrets:
            text = text.replace(secret, "<PASSWORD>")
        return text


@pytest.fixture(name="secured")
def fixture_secured(secure_env: dict[str, str], tmp_path: Path) -> Secured:
    return Secured(secure_env, tmp_path)


def test_the_whole_path_runs_secured_and_prints_no_secret(secured: Secured) -> None:
    """reset, topics create, simulate, the worker, show, tail: every client over SASL_SSL
    with SCRAM and a client certificate, and Redis over TLS with an ACL user. The stream
    equals the replay, alerts and dead letters arrive, and no output holds a password."""
    run_id, tmp = secured.run_id, secured.tmp_path
    secured.cli("reset", "--yes", "--app-id", run_id, "--data-dir", str(tmp / "worker"))
    report = orjson.loads(secured.cli("topics", "create", "--json").stdout)
    assert report["ok"] and report["bootstrap"] == secured.settings["SCORESTREAM_KAFKA_BOOTSTRAP"]
    assert set(report["existing"]) == set(topics.ALL_TOPICS)

    log = tmp / "sim.jsonl"
    secured.cli(*SIMULATION, "--out", str(log))
    sent = orjson.loads(secured.cli(*SIMULATION).stdout)
    assert sent["delivery"]["delivered"] == sent["events"] > sent["malformed"] > 0
    replay = orjson.loads(secured.cli("replay", str(log), "--format", "json").stdout)
    want: dict[str, list[dict[str, Any]]] = {}
    for card in replay["scorecards"]:
        want.setdefault(card["rep_id"], []).append(card)

    def shown(rep_id: str) -> list[dict[str, Any]]:
        done = secured.cli("show", rep_id, "--json", ok=False)
        return list(orjson.loads(done.stdout)["scorecards"]) if done.returncode == 0 else []

    def stream_equals_replay() -> bool:
        for rep_id, cards in want.items():
            got = {c["window"]: c for c in shown(rep_id)}
            assert set(got) == {c["window"] for c in cards}, rep_id
            for card in cards:
                assert_same_card(got[card["window"]], card)
        return True

    with secured.worker() as worker_log:
        wait_until(stream_equals_replay, 180, "`show` to equal the replay for every rep",
                   lambda: secured.masked(worker_log.read_text(errors="replace")),
                   poll_s=2)  # fmt: skip
        tail = ["--from-beginning", "--json", "--limit", "1"]
        alert = orjson.loads(secured.cli("tail", "alerts", *tail).stdout)
        assert alert["rep_id"] in want and alert["alert_id"]
        dead_letter = orjson.loads(secured.cli("tail", "dlq", *tail).stdout)
        assert dead_letter["reason"] and dead_letter["topic"] in topics.CRM_INPUTS
        counted = orjson.loads(secured.cli("dlq", "stats", "--json").stdout)
        assert counted["total"] >= 1 and counted["by_reason"][dead_letter["reason"]] >= 1

    # What a user could see: every command's output, the worker's log, and every --help.
    for command in (["--help"], ["worker", "--help"], ["topics", "create", "--help"],
                    ["simulate", "--help"], ["tail", "--help"], ["show", "--help"],
                    ["reset", "--help"], ["leaderboard", "--help"], ["dlq", "--help"]):  # fmt: skip
        secured.cli(*command)
    assert secured.settings["SCORESTREAM_KAFKA_BOOTSTRAP"] in "\n".join(secured.printed)
    assert_no_secret(secured)


@pytest.mark.parametrize(
    "command",
    [
        ["topics", "create"],
        ["topics", "watch", "--json"],
        ["simulate", "--days", "1", "--no-progress"],
        ["tail", "alerts"],
        ["dlq", "stats"],
        ["reset", "--yes", "--app-id", "never-deleted"],
        ["worker"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_kafka_refusing_the_password_or_untrusted_ends_every_command(
    secured: Secured, pem_files: PemFiles, command: list[str]
) -> None:
    """A wrong password, then a CA that did not sign the broker's certificate: the command
    ends (no hang, no endless retry) and names the variable to check."""
    command = runnable(secured, command)
    wrong = secured.cli(*command, ok=False, SCORESTREAM_KAFKA_PASSWORD=WRONG)
    assert wrong.returncode != 0
    assert "refused user 'scorestream'" in wrong.stderr
    assert "check SCORESTREAM_KAFKA_USERNAME, SCORESTREAM_KAFKA_PASSWORD" in wrong.stderr

    untrusted = secured.cli(*command, ok=False, SCORESTREAM_KAFKA_CA_FILE=str(pem_files.ca))
    assert untrusted.returncode != 0
    assert "TLS with Kafka at" in untrusted.stderr
    assert "certificate verify failed" in untrusted.stderr
    assert "check SCORESTREAM_KAFKA_CA_FILE" in untrusted.stderr
    assert_no_secret(secured, WRONG)


def test_the_broker_checks_our_client_certificate(secured: Secured, pem_files: PemFiles) -> None:
    """The listener requires a certificate from its CA: one it did not sign is refused, so
    the one in .local/secure.env (accepted in the test above) is really presented."""
    rogue = secured.cli(
        "topics", "create", ok=False,
        SCORESTREAM_KAFKA_CERT_FILE=str(pem_files.rogue_cert),
        SCORESTREAM_KAFKA_KEY_FILE=str(pem_files.rogue_key),
    )  # fmt: skip
    assert rogue.returncode != 0
    # The broker refuses it ("bad certificate"), or librdkafka sees first that the broker's
    # certificate request names no issuer of it: either way the broker asked for one of
    # its CA's, and this one was not used.
    assert "bad certificate" in rogue.stderr or "No matching issuer found" in rogue.stderr
    assert "check SCORESTREAM_KAFKA_BOOTSTRAP" in rogue.stderr
    assert "SCORESTREAM_KAFKA_CERT_FILE and SCORESTREAM_KAFKA_KEY_FILE" in rogue.stderr


@pytest.mark.parametrize(
    "command",
    [["show", "rep-ben"], ["leaderboard"], ["reset", "--yes", "--app-id", "never-deleted"],
     ["worker"]],
    ids=lambda c: c[0],
)  # fmt: skip
def test_redis_refusing_the_password_or_untrusted_ends_every_command(
    secured: Secured, pem_files: PemFiles, command: list[str]
) -> None:
    command = runnable(secured, command)
    wrong = secured.cli(*command, ok=False, SCORESTREAM_REDIS_PASSWORD=WRONG)
    assert wrong.returncode == 2
    assert "refused user 'scorestream'" in wrong.stderr
    assert "check SCORESTREAM_REDIS_USERNAME and SCORESTREAM_REDIS_PASSWORD" in wrong.stderr

    untrusted = secured.cli(*command, ok=False, SCORESTREAM_REDIS_CA_FILE=str(pem_files.ca))
    assert untrusted.returncode == 2
    assert "TLS with Redis at rediss://" in untrusted.stderr
    assert "check SCORESTREAM_REDIS_CA_FILE" in untrusted.stderr
    assert_no_secret(secured, WRONG)


def assert_same_card(got: dict[str, Any], want: dict[str, Any]) -> None:
    """KPI for KPI: values, targets, attainments, samples, contributions and every score."""
    where = (want["rep_id"], want["window"])
    assert (got["as_of"], got["team_id"]) == (want["as_of"], want["team_id"]), where
    assert got["overall"] == pytest.approx(want["overall"], abs=1e-9), where
    assert got["perspectives"] == pytest.approx(want["perspectives"], abs=1e-9), where
    for kpi, fields in want["kpis"].items():
        assert got["kpis"][kpi] == pytest.approx(fields, abs=1e-9), (*where, kpi)


def runnable(secured: Secured, command: list[str]) -> list[str]:
    """``command`` with the worker's own data dir and a free port when it is the worker."""
    if command != ["worker"]:
        return command
    return [*command, "--data-dir", str(secured.tmp_path / "worker"), "--web-port",
            str(free_port())]  # fmt: skip


def assert_no_secret(secured: Secured, *more: str) -> None:
    """No password in anything printed; a failure shows the lines with the password masked
    (pytest would otherwise print the password itself in the assertion's explanation)."""
    secrets = (*secured.secrets, *more)
    leaks = [
        line for text in secured.printed for line in text.splitlines()
        if any(secret in line for secret in secrets)
    ]  # fmt: skip
    for secret in secrets:
        leaks = [line.replace(secret, "<PASSWORD>") for line in leaks]
    assert not leaks, f"{len(leaks)} printed lines hold a password:\n" + "\n".join(leaks[:5])
