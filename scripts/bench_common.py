"""What every benchmark script prints and shares: the machine, the simulated org, paths."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".local" / "bench"
_STARTED = time.monotonic()

SIMULATED_ORG = ("--teams", "4", "--reps-per-team", "50")
"""200 reps: the org every benchmark simulates, so figures compare across scripts."""


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    )


def backfill_days(events: int) -> int:
    """Days of history that hold at least ``events`` for the simulated org (~1,650 a day)."""
    return min(max(30, events // 1600 + 30), 3650)


class BenchError(Exception):
    """The run cannot go on; the text says what happened and where to look."""


def progress(message: str) -> None:
    """A progress line on stderr, with the seconds since the script started."""
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)
