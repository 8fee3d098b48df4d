"""Errors of the stream services, under one root; messages name the thing and the fix."""

from __future__ import annotations


class StreamsError(Exception):
    """Root of every error raised by ``streams``."""


class KafkaUnavailableError(StreamsError):
    """The broker did not answer in time; the text names the address and how to start it."""


class AccessError(StreamsError):
    """Kafka or Redis refused our credentials or certificate: waiting will not help, so it
    fails at once; the text names the setting to check."""


class TopicsError(StreamsError):
    """A topic could not be created, described or watched; the text names the topic."""


class CrmImportError(StreamsError):
    """A CRM export that cannot be read at all (missing file or column); bad rows are reported."""


class VersionRefused(StreamsError):
    """A scorecard version the workers could not score exactly; the text says why and what
    the workers can score."""
