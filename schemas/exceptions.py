"""Errors of the contracts; every message names the field and what is wrong."""

from __future__ import annotations


class SchemaError(Exception):
    """Root of every error raised by ``schemas``."""


class EventError(SchemaError, ValueError):
    """A CRM message that does not decode or validate; its text is the dead-letter reason."""
