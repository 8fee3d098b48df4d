"""Errors of the sinks, under one root; messages name the destination and what failed."""

from __future__ import annotations


class SinkError(Exception):
    """Root of every error raised by ``sinks``."""


class KafkaDeliveryError(SinkError):
    """Messages Kafka did not acknowledge after the client's own retries; never swallowed."""


class RedisUnavailableError(SinkError):
    """Redis did not answer (down, unreachable, timed out); readers raise it, the writer retries."""


class RedisStoreError(SinkError):
    """Redis refused a command or holds a value we cannot use (wrong type, out of memory,
    bad credentials, corrupt JSON); waiting would not fix it, so it is raised, not retried."""


class DeliveryError(SinkError):
    """A coaching alert a receiver did not take; the subclass says whether to try again."""


class RetryLater(DeliveryError):
    """A failure that waiting may fix: 429, 5xx, a timeout, a refused connection.
    ``retry_after_s`` is the receiver's own ask (``Retry-After``), when it made one."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class Refused(DeliveryError):
    """An answer that will never change by sending again (404 for a revoked webhook, 400, a
    rejected SMTP login): parked with the receiver's answer until a person redrives it."""

    def __init__(self, status: int, answer: str) -> None:
        super().__init__(f"refused with {status}: {answer}")
        self.status = status
        self.answer = answer
