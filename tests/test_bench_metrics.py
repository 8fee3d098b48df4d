"""The benchmark's arithmetic (scripts/bench_metrics.py): quantiles from histogram buckets,
metrics summed over workers, and when a run counts as drained."""

from __future__ import annotations

import math
import sys

from tests.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_metrics import LATENCY, Scrape, delta, quantile


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
