"""Errors of the scoring core, under one root."""

from __future__ import annotations


class ScoringError(Exception):
    """Root of every error raised by ``scorers``."""


class RejectedEvent(ScoringError):
    """A valid-looking event the scorecard cannot use (unknown currency, too late); its text is the reason."""
