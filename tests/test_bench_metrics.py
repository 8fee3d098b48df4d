"""The benchmark's arithmetic (scripts/bench_metrics.py): quantiles from histogram buckets,
metrics summed over workers, when a run counts as drained, and the figures read from the
worker's own /metrics text (its metric names, as WorkerMetrics exposes them)."""

from __future__ import annotations

import math
import sys

from streams.worker.metrics import WorkerMetrics
from tests.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_metrics import LATENCY, Scrape, delta, parse, quantile, us_per_rep


def test_a_quantile_is_interpolated_inside_its_bucket_and_capped_above_the_last() -> None:
    buckets = [(0.1, 10.0), (0.2, 30.0), (math.inf, 40.0)]
    p50 = quantile(buckets, 0.5)
    assert p50 is not None and not p50.capped
    assert math.isclose(p50.value, 0.15)  # the 20th of 40 is halfway into (0.1, 0.2]
    p99 = quantile(buckets, 0.99)
    assert p99 is not None and p99.capped and p99.value == 0.2 and p99.ms() == math.inf
    assert quantile([(0.1, 0.0), (math.inf, 0.0)], 0.5) is None


def test_workers_metrics_add_up_and_a_delta_counts_only_what_came_between() -> None:
    one = Scrape(
        events_in=5, lag={("crm.calls", 0): 0}, histograms={LATENCY: {0.1: 2, math.inf: 3}}
    )
    two = Scrape(
        events_in=7, lag={("crm.calls", 1): 4}, histograms={LATENCY: {0.1: 1, math.inf: 1}}
    )
    total = one + two
    assert total.events_in == 12 and total.count(LATENCY) == 4
    assert not total.drained([("crm.calls", 0), ("crm.calls", 1)])  # partition 1 is behind
    assert not one.drained([("crm.calls", 0), ("crm.calls", 1)])  # partition 1 not held
    assert one.drained([("crm.calls", 0)])
    assert delta(one, total, LATENCY) == [(0.1, 1.0), (math.inf, 1.0)]


def scraped(*workers: WorkerMetrics) -> Scrape:
    """The workers' /metrics text as the benchmark reads it, summed."""
    return sum((parse(w.exposition().decode()) for w in workers), Scrape())


def score(metrics: WorkerMetrics, reps: list[int], cpu_s: float) -> None:
    """Batches of ``reps`` reps scored in ``cpu_s`` CPU seconds, as the shell counts them (and
    planned in three times as much, with their rules and outputs)."""
    for n in reps:
        metrics.batch_reps.observe(n)
    metrics.scoring_cpu.inc(cpu_s)
    metrics.planning_cpu.inc(3 * cpu_s)


def test_score_us_per_rep_is_the_scoring_cpu_over_the_reps_of_every_phase_and_worker() -> None:
    """Summed over phases and workers, not a mean of per-phase ratios: here 100 µs a rep
    then 200 µs a rep over three times the reps make 175, not 150. What came before the
    first phase (the backlog) does not count."""
    one, two = WorkerMetrics(), WorkerMetrics()
    score(one, [500, 500], 5.0)  # the backlog: 10,000 µs a rep, outside every phase
    start = scraped(one, two)
    score(one, [60], 0.006)
    score(two, [40], 0.004)  # phase 1: 100 reps, 0.01 s
    middle = scraped(one, two)
    score(one, [150, 150], 0.06)  # phase 2: 300 reps, 0.06 s
    end = scraped(one, two)

    assert math.isclose(end.scoring_cpu, 5.07)  # the counter's _total sample, both workers
    assert math.isclose(us_per_rep([(start, middle)]), 100.0)
    assert math.isclose(us_per_rep([(middle, end)]), 200.0)
    assert math.isclose(us_per_rep([(start, middle), (middle, end)]), 175.0)
    assert math.isnan(us_per_rep([(end, end)]))  # no rep scored: no figure, not 0
    assert math.isclose(us_per_rep([(start, middle), (middle, end)], planning=True), 525.0)


def test_a_phase_p99_comes_from_the_worker_latency_histogram_between_its_scrapes() -> None:
    """The p99 of a live phase (p99_ms, p99_1k_ms, p99_10pct_ms) counts only the events
    scored inside it: 99 fast ones and one slow, after a slow backlog."""
    metrics = WorkerMetrics()
    for _ in range(50):
        metrics.latency.observe(20.0)  # the backlog, all in the 30 s bucket
    before = scraped(metrics)
    for _ in range(99):
        metrics.latency.observe(0.06)  # in (0.05, 0.075]
    metrics.latency.observe(4.0)  # in (3, 5]
    after = scraped(metrics)

    p99 = quantile(delta(before, after, LATENCY), 0.99)
    assert p99 is not None and not p99.capped
    assert math.isclose(p99.ms(), 75.0)  # the 99th of 100 is the top of (0.05, 0.075]
    p100 = quantile(delta(before, after, LATENCY), 1.0)
    assert p100 is not None and math.isclose(p100.ms(), 5000.0)
