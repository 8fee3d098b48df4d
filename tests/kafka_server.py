"""A Kafka broker of a test's own (scripts/kafka.sh on free ports with its own data dir),
that the test may stop and start without disturbing the shared one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.redis_server import free_port

KAFKA_SH = Path(__file__).resolve().parent.parent / "scripts" / "kafka.sh"


class ThrowawayKafka:
    """One KRaft node, plaintext, its data under ``state``: a restart keeps the log."""

    def __init__(self, state: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_STATE": str(state),
            "SECURE": "",
        }

    def _run(self, command: str) -> None:
        done = subprocess.run(
            [str(KAFKA_SH), command], env=self._env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"kafka.sh {command} failed:\n{done.stderr[-3000:]}"

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")
