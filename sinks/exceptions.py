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
