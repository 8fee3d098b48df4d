"""``make demo``'s restart policy (scripts/keep_running.sh): a worker that ends itself is
started again, and stopping the demo stops it for good."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.paths import REPO_ROOT

SCRIPT = str(REPO_ROOT / "scripts" / "keep_running.sh")


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_command_that_exits_is_started_again_and_its_exit_code_said(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    keeper = subprocess.Popen([SCRIPT, "bash", "-c", f"echo run >> {runs}; exit 3"],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert wait_for(lambda: runs.exists() and runs.read_text().count("run") == 2, 20)
    finally:
        keeper.send_signal(signal.SIGTERM)
        _, stderr = keeper.communicate(timeout=20)
    assert keeper.returncode == 0
    assert "bash exited with code 3; starting it again in 5 s" in stderr


def test_stopping_it_stops_the_command_and_waits_for_it(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    started = tmp_path / "started"
    on_term = f"kill $!; sleep 1; touch {stopped}; exit 0"
    command = f"trap '{on_term}' TERM; touch {started}; sleep 300 & wait"
    keeper = subprocess.Popen([SCRIPT, "bash", "-c", command])
    assert wait_for(started.exists, 20)
    keeper.send_signal(signal.SIGTERM)
    assert keeper.wait(timeout=20) == 0
    assert stopped.exists(), "the command's own stop ran, and was waited for"
