"""Numbers and names for people, the same in the terminal and on the web page."""

from __future__ import annotations

import re
from typing import Any, Final

from rich.markup import escape

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
"""C0, DEL and C1 controls: ESC and CSI (0x9b) would let a CRM field drive the terminal."""


def number(value: float | None) -> str:
    """KPI values span ratios (0.42) to revenue (125,000): precision follows size."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10 or value == int(value):
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:.2f}"


def signed(value: float | None, none: str = "-") -> str:
    """A change with its sign and one decimal (``0.0`` when it rounds to nothing, never
    ``-0.0``); ``none`` when there is no change to tell."""
    if value is None:
        return none
    return "0.0" if round(value, 1) == 0 else f"{value:+.1f}"


def score(value: float | None) -> str:
    """A 0..100 score with one decimal; ``-`` for none."""
    return "-" if value is None else f"{value:.1f}"


def one_line(value: Any) -> str:
    """A field as one line of text: missing is ``?``, control characters become spaces.

    CRM ids and names are anyone's text; none may move the cursor or recolour a terminal.
    """
    if value is None:
        return "?"
    return _CONTROL.sub(" ", value if isinstance(value, str) else str(value))


def plain(value: Any) -> str:
    """``one_line(value)`` safe inside rich markup: a rep named ``[/]`` prints as itself."""
    return escape(one_line(value))
