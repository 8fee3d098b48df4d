"""Errors of the contracts; every message names the field and what is wrong."""

from __future__ import annotations


class SchemaError(Exception):
    """Root of every error raised by ``schemas``."""


class EventError(SchemaError, ValueError):
    """A CRM message that does not decode or validate; its text is the dead letter's detail."""

    def __init__(
        self, detail: str, *, not_json: bool = False, errors: list[str] | None = None
    ) -> None:
        super().__init__(detail)
        self.not_json = not_json
        """The bytes are not JSON at all (as opposed to JSON that is not a valid event)."""
        self.errors = errors if errors is not None else [detail]
        """What is wrong, one entry per field (``detail`` joins them)."""
