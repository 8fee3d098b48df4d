"""Errors of the sinks, under one root; messages name the destination and what failed."""

from __future__ import annotations


class SinkError(Exception):
    """Root of every error raised by ``sinks``."""


class KafkaDeliveryError(SinkError):
    """Messages Kafka did not acknowledge after the client's own retries; never swallowed."""
