"""The benchmark's CPU accounting of a worker process: all its threads, or its main thread
(the event loop) alone, from /proc."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_workers import cpu_seconds

BUSY_THREAD = """
import sys, threading, time
def burn():
    end = time.thread_time() + 0.5
    while time.thread_time() < end:
        pass
worker = threading.Thread(target=burn)
worker.start()
worker.join()
print("burnt", flush=True)
sys.stdin.read()
"""


def test_a_process_cpu_is_told_apart_by_thread() -> None:
    """A process whose second thread burns 0.5 s of CPU while its main thread waits: the
    process's CPU counts it, its main thread's does not."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BUSY_THREAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"burnt\n"
        total, main = cpu_seconds([proc]), cpu_seconds([proc], main_thread=True)
        assert total >= 0.45 and main < total - 0.4, (total, main)
    finally:
        proc.communicate(b"")
