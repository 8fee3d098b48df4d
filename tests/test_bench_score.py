"""The scoring benchmark (scripts/bench_score.py) runs end to end on a small history and
reports positive figures (with what scoring keeps between rounds, and without, and to
publish the cards) for every simulated rep, and for live batches planned."""

from __future__ import annotations

import sys

from tests.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_score import plan_us_per_event, score_us_per_rep


def test_a_short_history_scores_every_rep_and_gives_a_figure() -> None:
    figure, cold, cards, reps = score_us_per_rep(days=7, rounds=2)
    assert reps == 200 and figure > 0 and cold > 0 and cards > 0


def test_live_batches_are_planned_with_their_reps_scored() -> None:
    """A live batch of 30 events scores most of its reps (few reps have two events in one):
    the figure is a live batch's, not a catch-up's that only folds."""
    per_event, per_batch = plan_us_per_event(days=7, batches=20, size=30)
    assert per_event > 0 and 15 <= per_batch <= 30
