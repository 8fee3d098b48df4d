"""Running the real `scorestream notify` in tests: a routing file, receivers' variables, the
process on its own consumer group and port, killed or stopped like a real one."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tests.integration.worker_harness import SCORESTREAM, System
from tests.redis_server import free_port


def webhook_secret(seed: bytes) -> str:
    return "whsec_" + base64.b64encode(seed.ljust(32, b"\0")[:32]).decode()


def scaled(lines: list[bytes], teams: tuple[str, ...]) -> list[bytes]:
    """The same scenario once per team: reps, events and team renamed, so each rule fires
    once per team (a log with more alerts, routes by team meaningful)."""
    out = []
    for team in teams:
        for line in lines:
            event = orjson.loads(line)
            event["event_id"] = f"{team}-{event['event_id']}"
            event["rep_id"] = f"{event['rep_id']}-{team}"
            if "team_id" in event:
                event["team_id"] = team
            out.append(orjson.dumps(event))
    return sorted(out, key=lambda line: orjson.loads(line)["occurred_at"])


@dataclass
class Notify:
    """The notify processes of one test, on one consumer group and one port."""

    system: System
    routes: Path
    env: dict[str, str]
    group: str
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, system: System, routes: Path, env: dict[str, str]) -> Notify:
        return cls(system, routes, env, f"{system.app_id}-notify", free_port())

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.system.log_dir / f"notify-{time.monotonic_ns()}.log").open("wb")
        try:
            proc = subprocess.Popen(
                [SCORESTREAM, "notify", "--routes", str(self.routes), "--group", self.group,
                 "--port", str(self.port)],
                env={**self.system.env(), **self.env}, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()
        self.procs.append(proc)
        return proc

    def kill_leftovers(self) -> None:
        """Whatever a failed test left running: a notify of ours must not outlive it."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        paths = sorted(self.system.log_dir.glob("notify-*.log"))
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in paths)

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/healthz"
            return bool(urllib.request.urlopen(url, timeout=2).status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        return str(urllib.request.urlopen(url, timeout=2).read().decode())

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> int:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9
