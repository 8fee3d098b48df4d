"""The trend line's geometry: days on x, 0..100 on y with 100 at the top."""

from __future__ import annotations

from streams.views.rankings import DayScore
from streams.web.charts import HEIGHT, WIDTH, trend


def test_days_map_to_x_and_scores_to_y_within_the_window() -> None:
    history = [
        DayScore("2026-01-31", 90.0, 95.0),  # before the 30 days: left out
        DayScore("2026-02-01", 100.0, 120.0),
        DayScore("2026-02-15", 50.0, 50.0),
        DayScore("2026-03-02", 0.0, 0.0),
    ]
    line = trend(history, "2026-03-02", days=30)
    assert (line.first_day, line.last_day) == ("2026-02-01", "2026-03-02")
    assert [(x, y) for x, y, _, _ in line.dots] == [
        (0.0, 0.0),
        (round(14 * WIDTH / 29, 1), HEIGHT / 2),
        (float(WIDTH), float(HEIGHT)),
    ]
    assert line.points == " ".join(f"{x},{y}" for x, y, _, _ in line.dots)


def test_no_history_draws_nothing() -> None:
    line = trend([], "2026-03-02")
    assert line.dots == [] and line.points == ""
