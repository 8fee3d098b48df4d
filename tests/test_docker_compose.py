"""docker-compose.yml and the Dockerfile: checked statically, since no Docker engine runs here.

What can break silently for a user is checked: the pinned images, the listener
wiring between containers and host, start order, healthchecks, that every
``scorestream`` command the compose file runs exists with those options, that settings
and secrets come from an env file, and the image's layout (users, owned directories).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from schemas.settings import Settings
from streams.cli.main import app
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT


@pytest.fixture(scope="module", name="compose")
def fixture_compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module", name="services")
def fixture_services(compose: dict[str, Any]) -> dict[str, Any]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


SCORESTREAM_SERVICES = ("topics", "worker", "simulator", "web", "ingest")


def env_file_lines(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as Compose reads an env file (comments and blanks skipped)."""
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def default_env_file(service: dict[str, Any]) -> Path:
    """The service's ``env_file``, with ``${VAR:-default}`` resolved to its default."""
    interpolated = re.fullmatch(r"\$\{(\w+):-([^}]+)\}", service["env_file"])
    assert interpolated is not None, service["env_file"]
    assert interpolated[1] == "SCORESTREAM_ENV_FILE"
    return ROOT / interpolated[2]


def container_env(service: dict[str, Any]) -> dict[str, str]:
    """What the container gets by default: its env file, then its ``environment`` on top
    (``${VAR:-default}`` as Compose resolves it with VAR unset in the shell)."""
    environment = {
        key: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
        for key, value in service["environment"].items()
    }
    return env_file_lines(default_env_file(service)) | environment


def scorestream_commands(services: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: [str(arg) for arg in service["command"]]
        for name, service in services.items()
        if isinstance(service.get("command"), list) and service["command"][0] == "scorestream"
    }


def test_services(services: dict[str, Any]) -> None:
    """Kafka, Redis, one-shot topic creation, the worker, the live simulator and the web page."""
    assert {"kafka", "redis", "topics", "worker", "simulator", "web"} <= set(services)


def test_images_are_pinned(services: dict[str, Any]) -> None:
    """Kafka is Apache's own image at a 4.1.x patch release; Redis is 7 on Alpine."""
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", services["kafka"]["image"])
    assert services["redis"]["image"] == "redis:7-alpine"
    for name in ("topics", "worker", "simulator", "web"):
        assert services[name]["build"] == "."


def test_kafka_is_a_single_kraft_node(services: dict[str, Any]) -> None:
    """One combined broker+controller voting for itself, replication 1, no auto-created topics."""
    env = {key: str(value) for key, value in services["kafka"]["environment"].items()}
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    voter = re.fullmatch(r"(\d+)@([\w.-]+):(\d+)", env["KAFKA_CONTROLLER_QUORUM_VOTERS"])
    assert voter is not None and voter[1] == node_id
    assert f"{controller}://:{voter[3]}" in env["KAFKA_LISTENERS"].split(",")
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])


def test_listeners_serve_containers_and_host(services: dict[str, Any]) -> None:
    """Containers bootstrap on an advertised internal listener; the host gets 9092."""
    kafka = services["kafka"]
    env = kafka["environment"]
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(advertised) | {env["KAFKA_CONTROLLER_LISTENER_NAMES"]} == set(listeners)
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert "localhost:9092" in advertised.values()
    assert "127.0.0.1:9092:9092" in kafka["ports"]
    for name in SCORESTREAM_SERVICES:
        bootstrap = container_env(services[name])["SCORESTREAM_KAFKA_BOOTSTRAP"]
        assert bootstrap in advertised.values() and bootstrap.startswith("kafka:")


def test_every_port_is_published_on_loopback_only(services: dict[str, Any]) -> None:
    """Kafka (PLAINTEXT) and Redis (no password) would be open to the network otherwise:
    Docker's published ports go around host firewalls."""
    for name, service in services.items():
        for published in service.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), (name, published)


def test_the_simulator_runs_only_in_the_demo_profile(services: dict[str, Any]) -> None:
    """A plain `docker compose up` against a managed cluster must not write fake events."""
    assert services["simulator"]["profiles"] == ["demo"]
    # ingest is opt-in too (it needs keys and hook secrets); every other service runs plainly.
    assert services["ingest"]["profiles"] == ["ingest"]
    assert all("profiles" not in s for n, s in services.items() if n not in {"simulator", "ingest"})


def test_start_order(services: dict[str, Any]) -> None:
    """Topics wait for a healthy broker; the simulator waits for topics to finish successfully."""
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert services["simulator"]["depends_on"] == {
        "topics": {"condition": "service_completed_successfully"}
    }
    assert services["topics"]["restart"] == "no"
    assert services["worker"]["depends_on"] == {
        "topics": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }


def test_worker_keeps_state_and_serves_health(services: dict[str, Any]) -> None:
    """The worker's RocksDB state is on a volume of each container's own (RocksDB locks its
    directory, so `--scale worker=N` must not share one); /health is published and checked,
    on a loopback port range with one port for each worker the partitions can use."""
    worker = services["worker"]
    command = worker["command"]
    data_dir = command[command.index("--data-dir") + 1]
    assert data_dir in worker["volumes"]  # anonymous: one per container
    web_port = command[command.index("--web-port") + 1]
    (published,) = worker["ports"]
    host, ports, container_port = published.split(":")
    first, last = (int(p) for p in ports.split("-"))
    assert host == "127.0.0.1" and container_port == web_port
    partitions = int(container_env(worker)["SCORESTREAM_PARTITIONS"])
    assert last - first + 1 == partitions
    assert command[command.index("--web-host") + 1] == "0.0.0.0"
    assert "/health" in " ".join(worker["healthcheck"]["test"])


def test_web_serves_the_host_loopback_only_without_a_token(services: dict[str, Any]) -> None:
    """Inside its container the page binds 0.0.0.0 (so the port can be published), which
    `serve` refuses without a token unless told; the host publishes it on loopback only."""
    web = services["web"]
    command = [str(arg) for arg in web["command"]]
    assert command[:2] == ["scorestream", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    has_token = "SCORESTREAM_WEB_TOKEN" in web.get("environment", {})
    assert ("--allow-anonymous" in command) is not has_token
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert Settings.from_env(container_env(web)).redis_url == "redis://redis:6379/0"


def test_healthchecks(services: dict[str, Any]) -> None:
    """Kafka answers an API-versions request on its internal listener; Redis answers PING."""
    kafka_test = " ".join(services["kafka"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in kafka_test and "kafka:19092" in kafka_test
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in ("kafka", "redis"):
        check = services[name]["healthcheck"]
        assert {"interval", "timeout", "retries"} <= set(check)


def test_service_environment_is_valid_settings(services: dict[str, Any]) -> None:
    """The SCORESTREAM_* variables the containers get pass the same validation as at start."""
    for name in SCORESTREAM_SERVICES:
        settings = Settings.from_env(container_env(services[name]))
        assert settings.kafka_bootstrap == "kafka:19092"
        assert settings.redis_url == "redis://redis:6379/0"


def test_connection_settings_and_secrets_come_from_an_env_file(services: dict[str, Any]) -> None:
    """Every scorestream service reads the one env file SCORESTREAM_ENV_FILE names; the
    compose file itself sets no connection or secret variable, so a managed env file is
    never overridden and no password is ever written into it."""
    env_files = {services[name]["env_file"] for name in SCORESTREAM_SERVICES}
    assert len(env_files) == 1
    for name in SCORESTREAM_SERVICES:
        inline = set(services[name]["environment"])
        assert not {n for n in inline if n.startswith(("SCORESTREAM_KAFKA", "SCORESTREAM_REDIS"))}
    compose_text = (ROOT / "docker-compose.yml").read_text()
    assert "PASSWORD" not in compose_text


def test_the_managed_example_is_valid_sasl_ssl_with_scram(services: dict[str, Any]) -> None:
    """The template a user copies for a managed Kafka and Redis passes the settings' checks,
    is SASL_SSL with SCRAM and TLS Redis with an ACL user, and its copy is git-ignored."""
    example = ROOT / "infra" / "compose" / "managed.env.example"
    settings = Settings.from_env(env_file_lines(example))
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.redis_tls and settings.redis_username and settings.redis_secret
    run = re.search(r"^#\s+(SCORESTREAM_ENV_FILE=\S+) docker compose up (.*)$",
                    example.read_text(), re.MULTILINE)  # fmt: skip
    assert run is not None
    assert run[1] == "SCORESTREAM_ENV_FILE=managed.env"
    assert "--no-deps" in run[2].split()  # the local kafka and redis stay down
    assert "managed.env" in (ROOT / ".gitignore").read_text().split()


def test_every_compose_command_is_a_real_cli_command(services: dict[str, Any]) -> None:
    """Each ``scorestream ...`` in the compose file parses with the real CLI (unknown
    commands or options fail), checked by appending ``--help``."""
    commands = scorestream_commands(services)
    assert commands["topics"][:3] == ["scorestream", "topics", "create"]
    assert commands["simulator"][:2] == ["scorestream", "simulate"]
    runner = CliRunner()
    for name, command in commands.items():
        result = runner.invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{name}: {command}: {result.output}"


def test_dockerfile_installs_the_package() -> None:
    """python:3.11-slim, every package pyproject ships copied in, then ``pip install .``."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    for package in ("schemas", "scorers", "sinks", "streams"):
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.MULTILINE), package
    assert re.search(r"^COPY pyproject\.toml README\.md requirements\.lock \./$", dockerfile,
                     re.MULTILINE)  # fmt: skip
    assert "pip install --no-deps ." in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]  # fmt: skip
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in joined.splitlines() if line.strip())
    ]


def test_the_worker_can_write_its_state_volume(services: dict[str, Any]) -> None:
    """The image runs as an unprivileged user, and the worker's --data-dir exists in the
    image owned by that user: Docker creates a new volume (named or anonymous) with the
    owner of the path it is mounted on, so a path missing from the image would be root's
    and unwritable."""
    instructions = dockerfile_instructions()
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    user = users[-1]
    commands = [
        shlex.split(part)
        for word, args in instructions if word == "RUN"
        for part in args.split("&&")
    ]  # fmt: skip
    created = [c for c in commands if c[0] == "useradd" and c[-1] == user]
    assert created and created[0][created[0].index("--uid") + 1] == "10001"

    worker = services["worker"]
    command = [str(arg) for arg in worker["command"]]
    data_dir = command[command.index("--data-dir") + 1]
    mounted = [v.split(":")[-1] for v in worker["volumes"]]
    assert data_dir in mounted
    owned = [
        c for c in commands
        if c[:2] == ["install", "-d"] and c[-1] == data_dir
        and c[c.index("-o") + 1] == user and c[c.index("-g") + 1] == user
    ]  # fmt: skip
    assert owned, f"{data_dir} is not created owned by {user} in the Dockerfile"
