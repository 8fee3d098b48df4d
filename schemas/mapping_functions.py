"""The functions a mapping's JMESPath expressions may call beyond JMESPath's own.

CRMs send times as epoch milliseconds (HubSpot), ISO text with ``Z`` (Salesforce) or bare
dates (close dates), and numbers as text; our contract wants ISO 8601 with an offset and
JSON numbers. These few conversions are what JMESPath lacks for that; everything else
(``join``, ``to_string``, ``to_number``, ``||``) is standard JMESPath.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, Final

from jmespath import functions

_DIGITS: Final = re.compile(r"^-?[0-9]{1,16}$")
_DATE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MAX_MS: Final = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _DIGITS.match(value)):
        ms = float(value)
        if not 0 <= ms <= _MAX_MS:
            return None
        return datetime.fromtimestamp(ms / 1000, UTC)
    if not isinstance(value, str):
        return None
    if _DATE.match(value):
        # A bare date (a close date): noon UTC keeps its day in every zone from -11 to +11.
        return datetime.fromisoformat(f"{value}T12:00:00+00:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class MappingFunctions(functions.Functions):
    """JMESPath's functions plus ``iso_time``, ``iso_date``, ``later``, ``number``, ``divide``."""

    @functions.signature({"types": []})
    def _func_iso_time(self, value: Any) -> str | None:
        """Epoch milliseconds (number or digits), ISO text with an offset, or a date (noon
        UTC) as ISO 8601 with an offset; null for anything else (the contract then names it)."""
        moment = _as_datetime(value)
        return None if moment is None else moment.isoformat()

    @functions.signature({"types": []})
    def _func_iso_date(self, value: Any) -> str | None:
        """The UTC day (YYYY-MM-DD) of anything ``iso_time`` reads; a bare date as it is."""
        if isinstance(value, str) and _DATE.match(value):
            return value
        moment = _as_datetime(value)
        return None if moment is None else moment.astimezone(UTC).date().isoformat()

    @functions.signature({"types": []}, {"types": []})
    def _func_later(self, first: Any, second: Any) -> str | None:
        """The later of two times (``iso_time``'s inputs), so a deal closed on the day it was
        created never closes before it opened; null if neither reads as a time."""
        moments = [m for m in (_as_datetime(first), _as_datetime(second)) if m is not None]
        return max(moments).isoformat() if moments else None

    @functions.signature({"types": []})
    def _func_number(self, value: Any) -> float | int | None:
        """A number, or text holding one (CRMs send amounts as text); null otherwise, and for
        ``NaN`` and infinities (which ``float`` reads from text, and no amount is)."""
        if isinstance(value, bool):
            return None
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        return None

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_divide(self, dividend: float, divisor: float) -> float | None:
        """``dividend / divisor`` (milliseconds to seconds); null when dividing by zero."""
        return None if divisor == 0 else dividend / divisor


FUNCTIONS: Final = MappingFunctions()
FUNCTION_NAMES: Final = frozenset(
    name.removeprefix("_func_") for name in dir(MappingFunctions) if name.startswith("_func_")
)
