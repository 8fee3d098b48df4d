"""Errors of the scoring core, under one root."""

from __future__ import annotations

from typing import Literal

RejectCode = Literal["unknown_currency", "too_late"]


class ScoringError(Exception):
    """Root of every error raised by ``scorers``."""


class RejectedEvent(ScoringError):
    """A valid event the scorecard cannot use; ``code`` says why, the text says what to do."""

    def __init__(self, code: RejectCode, detail: str) -> None:
        super().__init__(detail)
        self.code: RejectCode = code
