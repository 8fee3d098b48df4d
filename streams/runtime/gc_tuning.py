"""Garbage collection for the long-running commands (worker, ingest gateway, replay, diff).

Under load, Python's default thresholds (700, 10, 10) promote the objects of every batch in
flight to the old generations and then run full collections, each of which walks every
object start-up built (modules, the app, pydantic's schemas) for nothing. The replay's
chunks of decoded events (``scorers.replay``) did the same: a quarter of its time.
"""

from __future__ import annotations

import gc
from typing import Final

GC_THRESHOLDS: Final = (20_000, 50, 100)
"""Python's default (700, 10, 10) ran a full collection every ~3 s under load, each
holding the worker's event loop for 80-110 ms: most of the worker's p99 latency."""


def quiet_gc() -> None:
    """Collect the old generations far less often, and never scan what start-up built
    (modules, the app): young garbage is still collected as it comes."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
