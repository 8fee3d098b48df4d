"""Errors of the scoring core, under one root."""

from __future__ import annotations


class ScoringError(Exception):
    """Root of every error raised by ``scorers``."""


class RejectedEvent(ScoringError):
    """A valid event the scorecard cannot use (unknown currency, too late); text = reason."""
