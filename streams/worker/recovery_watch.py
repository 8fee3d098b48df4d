"""A worker whose table recovery stops making progress ends, saying what it waited on.

Before the agent gets a message, faust replays the changelog into the state of the
partitions it was given. Once, in CI, that replay got no record for minutes after a worker
took over the partitions of another that was killed: it held every partition and scored
nothing, for good (faust only warns, every few seconds, which partitions it waits for).
The cause was not found in the logs then; this watch logs it next time (the flow, paused
partitions, aiokafka's positions, where each task waits) and ends the process, as a kill -9
would: its supervisor starts it again, and the new process recovers afresh. A recovery that
reads, however slowly, is left alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final, NoReturn

from streams.runtime import stopping

STALL_S: Final = 60.0
"""A recovery that read no changelog record for this long, with records left, has stalled
(faust warns after 30 s; Kafka away that long ends the process too, which is harmless)."""
EXIT_STALLED: Final = 4


class RecoveryWatch:
    def __init__(
        self,
        left: Callable[[], dict[str, int]],
        report: Callable[[], dict[str, Any]],
        clock: Callable[[], float] = time.monotonic,
        exit_now: Callable[..., NoReturn] = stopping.exit_now,
    ) -> None:
        self._left, self._report, self._clock, self._exit = left, report, clock, exit_now
        self._last: dict[str, int] = {}
        self._since = 0.0

    async def check(self) -> None:
        """Run every few seconds: ends the process once the recovery has stalled."""
        now = self._clock()
        left = self._left()
        if not left or left != self._last:
            self._last, self._since = left, now
            return
        if now - self._since >= STALL_S:
            waiting = stopping.waiting(asyncio.get_running_loop())
            self._exit("recovery_stalled", EXIT_STALLED, seconds=round(now - self._since),
                       **self._report(), waiting=waiting)  # fmt: skip
