"""A process told to stop ends within a deadline, however its stop goes.

A service whose stop hangs holds its port, its partitions or its place in a supervisor's
restart until someone kills it. Each long-running command arms a deadline when SIGTERM or
Ctrl-C arrives; past it the process logs where its tasks wait and ends with exit code 3.
Nothing is lost by that: the worker's open batch is not acked (so it is redelivered), a
web server holds no state, and the ingest gateway acknowledges only what Kafka has.
``exit_now`` and ``waiting`` also serve the ends a worker takes by itself (a batch that
cannot be written, a table recovery that stalled).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from types import FrameType
from typing import Any, Final, NoReturn

import structlog
import uvicorn

log = structlog.get_logger()

EXIT_OVERDUE: Final = 3
STARTUP_FAILURE: Final = 3
"""``uvicorn.run``'s exit code when the server could not start (not exported by uvicorn)."""


def arm(seconds: float) -> None:
    """End the process ``seconds`` from now unless it has ended by then."""
    loop = _running_loop()
    deadline = threading.Timer(seconds, _overdue, (seconds, loop))
    deadline.daemon = True
    deadline.start()


def exit_now(event: str, code: int, **context: object) -> NoReturn:
    """Log ``event`` and end the process at once: no stop, no cleanup, as a kill -9 would."""
    log.error(event, exit_code=code, **context)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class DeadlineServer(uvicorn.Server):
    """uvicorn, whose stop ends the process after ``stop_deadline_s`` at the latest."""

    def __init__(self, config: uvicorn.Config, stop_deadline_s: float) -> None:
        super().__init__(config)
        self.stop_deadline_s = stop_deadline_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:  # the first signal; a second one forces uvicorn's exit
            arm(self.stop_deadline_s)
        super().handle_exit(sig, frame)


def run_server(app: Any, *, stop_deadline_s: float, **config: Any) -> None:
    """``uvicorn.run(app, **config)`` with a deadline on its stop; like it, ends the process
    with uvicorn's exit code 3 when the server could not start (a port in use)."""
    server = DeadlineServer(uvicorn.Config(app, **config), stop_deadline_s)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _overdue(seconds: float, loop: asyncio.AbstractEventLoop | None) -> None:
    exit_now("stop_overdue", EXIT_OVERDUE, seconds=seconds, waiting=waiting(loop))


def waiting(loop: asyncio.AbstractEventLoop | None) -> list[str]:
    """Where each of the loop's tasks waits (its await chain, innermost last): why a stop or
    a recovery hung. Best-effort when read from another thread while the loop runs."""
    if loop is None:
        return []
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError:  # the set changed while it was copied
        return []
    return sorted(" > ".join(_awaits(task.get_coro())) for task in tasks)


def _awaits(awaitable: Any) -> list[str]:
    """``file:line function`` of each coroutine, async generator or generator in the chain."""
    chain = []
    while awaitable is not None:
        frame = next((getattr(awaitable, a) for a in FRAMES if hasattr(awaitable, a)), None)
        if frame is None:
            break
        chain.append(f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
                     f" {frame.f_code.co_name}")  # fmt: skip
        awaitable = next((getattr(awaitable, a) for a in AWAITS if hasattr(awaitable, a)), None)
    return chain


FRAMES: Final = ("cr_frame", "ag_frame", "gi_frame")
AWAITS: Final = ("cr_await", "ag_await", "gi_yieldfrom")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
