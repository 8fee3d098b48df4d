"""The streaming worker on the real Kafka and Redis equals `scorestream replay` of the same log.

A simulated org's log with duplicates, late and shuffled events, reopened deals and
malformed lines goes through a plain confluent-kafka producer; the worker runs with
the event clock, so once drained its scorecards are as of the log's last day, like
the replay's. Then the recovery cases: a worker stopped half way and restarted, and a
worker whose local state is gone and comes back from the changelog.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from schemas.events import event_to_json
from schemas.scorecard_definition import ScorecardDefinition, load_definition
from schemas.settings import Settings
from scorers.replay import Replay
from tests.integration.worker_harness import System, produce_lines, wait_until
from tests.scorers.builders import call
from tests.scorers.test_pipeline import ANA, BOB

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SCORESTREAM = str(Path(sys.executable).parent / "scorestream")


def simulated_log(
    tmp_path: Path, days: int = 45, seed: int = 21, malformed: float = 0.01
) -> list[bytes]:
    out = tmp_path / "sim.jsonl"
    subprocess.run(
        [SCORESTREAM, "simulate", "--days", str(days), "--end", "2026-05-31", "--seed", str(seed),
         "--teams", "3", "--reps-per-team", "4", "--malformed-share", str(malformed),
         "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    lines = out.read_bytes().splitlines()
    random.Random(seed).shuffle(lines)  # arrival order has nothing to do with event time
    return lines


def expected_cards(
    lines: list[bytes], definition: ScorecardDefinition | None = None
) -> tuple[Cards, int]:
    """The replay's scorecards keyed (rep_id, team_id, window), and its rejected count
    (``definition``: the shipped one by default)."""
    engine = Replay(definition or load_definition())
    for n, line in enumerate(lines, 1):
        engine.feed(n, line)
    result = engine.result().to_json_dict()
    cards = {
        (c.get("rep_id"), c["team_id"], c["window"]): c
        for c in result["scorecards"] + result["teams"]
    }
    return cards, len(result["rejected"])


Cards = dict[tuple[Any, ...], dict[str, Any]]


def assert_same(got: Cards, want: Cards) -> bool:
    """KPI for KPI (values, targets, attainments, samples, contributions) and every score."""
    missing, extra = sorted(set(want) - set(got), key=str), sorted(set(got) - set(want), key=str)
    assert not missing and not extra, (f"{len(missing)} missing", missing[:3], "extra", extra[:3])
    for key, card in want.items():
        mine = got[key]
        assert mine["as_of"] == card["as_of"], key
        assert mine["overall"] == pytest.approx(card["overall"], abs=1e-9), key
        assert mine["perspectives"] == pytest.approx(card["perspectives"], abs=1e-9), key
        for kpi, fields in card["kpis"].items():
            assert mine["kpis"][kpi] == pytest.approx(fields, abs=1e-9), (key, kpi)
    return True


def test_drained_stream_equals_the_replay(settings: Settings, tmp_path: Path) -> None:
    """Every rep's and team's scorecard in Redis equals the replay's; bad lines are in the DLQ."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path)
    want, rejected = expected_cards(lines)
    # Not vacuous for the leading indicators: most cards, the teams' too, have open deals.
    pipelines = [c["kpis"]["open_pipeline"]["value"] for c in want.values()]
    assert sum(value > 0 for value in pipelines) > 0.8 * len(pipelines)
    assert any(c["kpis"]["forecast_attainment"]["value"] for c in want.values())
    produce_lines(settings.kafka_bootstrap, lines)
    with system.worker():
        wait_until(lambda: assert_same(system.cards(), want), 180, "Redis to equal the replay",
                   system.worker_logs)  # fmt: skip
    letters = system.dead_letters()
    assert len(letters) == rejected
    assert all(letter["reason"] and letter["original"] for letter in letters)
    assert {letter["topic"] for letter in letters} <= {"crm.deals", "crm.calls", "crm.nps",
        "crm.leads", "crm.accounts", "crm.learning", "crm.reps"}  # fmt: skip


def test_restarts_and_lost_local_state_still_equal_the_replay(
    settings: Settings, tmp_path: Path
) -> None:
    """Stop half way and restart on the same data dir; then lose the data dir entirely:
    the state comes back from the changelog, and redeliveries are still recognised."""
    system = System.fresh(settings, tmp_path)
    lines = simulated_log(tmp_path, days=40, seed=5)
    half = len(lines) // 2
    want_half, _ = expected_cards(lines[:half])
    want, _ = expected_cards(lines)

    produce_lines(settings.kafka_bootstrap, lines[:half])
    with system.worker():
        wait_until(lambda: assert_same(system.cards(), want_half), 180, "the first half",
                   system.worker_logs)  # fmt: skip
    produce_lines(settings.kafka_bootstrap, lines[half:])
    with system.worker():  # new process, same data dir
        wait_until(lambda: assert_same(system.cards(), want), 180, "the whole log",
                   system.worker_logs)  # fmt: skip

    # Lose the local state and the Redis copy: only the changelog topics remain.
    shutil.rmtree(system.data_dir)
    system.clear_redis()
    redelivered = random.Random(1).sample(lines, 200)
    produce_lines(settings.kafka_bootstrap, redelivered)
    with system.worker():
        wait_until(lambda: assert_same(system.cards(), want), 180,
                   "the state rebuilt from the changelog", system.worker_logs)  # fmt: skip


def test_pipeline_kpis_through_the_stream_are_the_hand_computed_ones(
    settings: Settings, tmp_path: Path
) -> None:
    """The hand-computed pipeline of tests/scorers/test_pipeline.py (FX, a stage change
    without an amount, a reopened deal, a deal opened in February and won in March), shuffled
    and every event sent twice, through Kafka, the worker and Redis: the same numbers."""
    system = System.fresh(settings, tmp_path)
    closing_day = call("2026-03-10", rep="bob")  # moves the event clock to March 10
    lines = [event_to_json(e) for e in [*ANA, *BOB, closing_day]]
    random.Random(15).shuffle(lines)
    produce_lines(settings.kafka_bootstrap, lines + lines[::-1])
    forecast = 7_500 + 0.25 * 10_000 + 0.1 * 4_000

    def as_computed() -> bool:
        cards = system.cards()
        ana, team = cards.get(("ana", "north", "quarter")), cards.get((None, "north", "quarter"))
        assert ana is not None and team is not None, "not scored yet"
        assert ana["as_of"] == team["as_of"] == "2026-03-10", (ana["as_of"], team["as_of"])
        kpis = {k: v["value"] for k, v in ana["kpis"].items()}
        assert kpis["open_pipeline"] == pytest.approx(22_900)
        assert kpis["pipeline_coverage"] == pytest.approx(21_900 / (90_000 - 7_500))
        assert kpis["forecast_attainment"] == pytest.approx(forecast / 90_000)
        assert cards[("ana", "north", "30d")]["kpis"]["open_pipeline"]["value"] == pytest.approx(
            22_900
        )
        assert team["kpis"]["open_pipeline"]["value"] == pytest.approx(28_900)
        assert team["kpis"]["forecast_attainment"]["value"] == pytest.approx(
            (forecast + 0.7 * 6_000) / 150_000
        )
        return True

    with system.worker():
        wait_until(as_computed, 120, "the hand-computed pipeline in Redis", system.worker_logs)
