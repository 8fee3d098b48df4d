"""The scoring benchmark (scripts/bench_score.py) runs end to end on a small history and
reports positive figures (with what scoring keeps between rounds, and without, and to
publish the cards) for every simulated rep."""

from __future__ import annotations

import sys

from tests.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_score import score_us_per_rep


def test_a_short_history_scores_every_rep_and_gives_a_figure() -> None:
    figure, cold, cards, reps = score_us_per_rep(days=7, rounds=2)
    assert reps == 200 and figure > 0 and cold > 0 and cards > 0
