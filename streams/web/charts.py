"""A rep's overall over the last days as an inline SVG polyline: no chart library, no script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from streams.views.rankings import DayScore

WIDTH, HEIGHT = 1000, 180
"""The SVG's own coordinates (wide and low, like the page's panels); it scales to its box."""


@dataclass(frozen=True, slots=True)
class Trend:
    points: str
    """``x,y`` pairs for ``<polyline points=...>``; empty when there is no day to draw."""
    dots: list[tuple[float, float, str, float]]
    """(x, y, day, overall) of every day with a score, for markers and their titles."""
    first_day: str
    last_day: str
    width: int = WIDTH
    height: int = HEIGHT


def trend(history: Sequence[DayScore], last_day: str, days: int = 30) -> Trend:
    """The ``days`` days up to ``last_day`` (ISO) on x, overall 0..100 on y (100 at the top).

    Days without a score are gaps in the markers but the line joins the days around them.
    """
    end = date.fromisoformat(last_day)
    start = end - timedelta(days=days - 1)
    step = WIDTH / max(days - 1, 1)
    dots = []
    for point in history:
        day = date.fromisoformat(point.day)
        if start <= day <= end:
            x = round((day - start).days * step, 1)
            y = round(HEIGHT * (1 - min(max(point.overall, 0.0), 100.0) / 100), 1)
            dots.append((x, y, point.day, point.overall))
    return Trend(
        points=" ".join(f"{x},{y}" for x, y, _, _ in dots),
        dots=dots,
        first_day=start.isoformat(),
        last_day=last_day,
    )
