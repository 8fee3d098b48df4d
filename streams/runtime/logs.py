"""structlog set-up shared by every command: JSON lines for machines, colours on a terminal.

Library code only calls ``structlog.get_logger()`` and binds context (rep_id, topic,
partition, offset); this module decides how lines look, once, at start.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Final, Literal

import structlog

LogFormat = Literal["auto", "json", "console"]


class _CurrentStderr:
    """Writes to ``sys.stderr`` as it is at write time, not at configure time.

    Test runners (typer's CliRunner, pytest's capsys) swap ``sys.stderr`` per
    invocation; a logger holding the old object would write to a closed file on the
    next command run in the same process.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


REPEAT_WINDOW_S: Final = 10.0


class RepeatFilter(logging.Filter):
    """Lets through a library's message once per ``window_s`` per message template, with
    how many were held back: while Kafka is away aiokafka logs every failed connection
    attempt, hundreds of lines a second, burying everything else."""

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window_s, self.clock = window_s, clock
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.window_s:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if len(self._seen) > 1000:  # messages formatted before logging are keys too
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window_s}
        self._seen[key] = (now, 0)
        if last is not None and last[1]:
            record.msg = f"{record.msg} ({last[1]} more like this held back)"
        return True


def configure_logging(fmt: LogFormat = "auto", level: int = logging.INFO) -> None:
    """Route structlog (and the stdlib loggers faust and aiokafka use) to stderr."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    handler.addFilter(RepeatFilter())  # only foreign loggers reach this handler
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.WARNING))
