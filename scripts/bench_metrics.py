"""The worker's /metrics as the benchmark reads them: one scrape per worker, summed over
the workers of a run, and quantiles from histogram buckets as Prometheus computes them."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

LATENCY: str = "scorestream_event_to_redis_seconds"
"""Kafka record timestamp -> the scorecard flushed to Redis."""
BATCH_REPS: str = "scorestream_batch_reps"
"""Reps scored per batch: its sum is the reps scored."""

Buckets = list[tuple[float, float]]
"""(upper bound le, cumulative count), ascending."""


@dataclass
class Scrape:
    """What the benchmark needs of one or more workers' metrics (sums over workers)."""

    events_in: float = 0.0
    lag: dict[tuple[str, int], float] = field(default_factory=dict)
    """Input partition -> messages behind, for the partitions the workers hold now."""
    dead_letters: dict[str, float] = field(default_factory=dict)
    duplicates: float = 0.0
    scorecards: float = 0.0
    scoring_cpu: float = 0.0
    """CPU seconds spent scoring reps (``score_rep``, every window)."""
    planning_cpu: float = 0.0
    """CPU seconds spent on the reps scored, their rules, card changes and score events too."""
    histograms: dict[str, dict[float, float]] = field(default_factory=dict)
    """Histogram name (without _bucket) -> le -> cumulative count."""
    sums: dict[str, float] = field(default_factory=dict)
    """Histogram name -> the sum of its observations."""

    def drained(self, partitions: Iterable[tuple[str, int]]) -> bool:
        """Every one of ``partitions`` held by a worker, none with a message left."""
        return all(self.lag.get(tp) == 0 for tp in partitions)

    def count(self, histogram: str) -> float:
        buckets = self.histograms.get(histogram, {})
        return buckets.get(math.inf, 0.0)

    def __add__(self, other: Scrape) -> Scrape:
        out = Scrape(
            events_in=self.events_in + other.events_in,
            lag={**self.lag, **other.lag},
            duplicates=self.duplicates + other.duplicates,
            scorecards=self.scorecards + other.scorecards,
            scoring_cpu=self.scoring_cpu + other.scoring_cpu,
            planning_cpu=self.planning_cpu + other.planning_cpu,
        )
        for reason in self.dead_letters.keys() | other.dead_letters.keys():
            out.dead_letters[reason] = self.dead_letters.get(reason, 0.0) + other.dead_letters.get(
                reason, 0.0
            )
        for name in self.histograms.keys() | other.histograms.keys():
            mine, theirs = self.histograms.get(name, {}), other.histograms.get(name, {})
            out.histograms[name] = {
                le: mine.get(le, 0.0) + theirs.get(le, 0.0) for le in mine.keys() | theirs.keys()
            }
            out.sums[name] = self.sums.get(name, 0.0) + other.sums.get(name, 0.0)
        return out


def scrape(port: int) -> Scrape | None:
    """One worker's metrics, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    return parse(text)


def parse(text: str) -> Scrape:
    """One worker's metrics from its Prometheus text."""
    out = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name.endswith("_bucket") and "le" in labels:
                out.histograms.setdefault(name.removesuffix("_bucket"), {})[float(labels["le"])] = (
                    value
                )
            elif name.endswith("_sum") and family.type == "histogram":
                out.sums[name.removesuffix("_sum")] = value
            elif name == "scorestream_events_in_total":
                out.events_in += value
            elif name == "scorestream_consumer_lag":
                out.lag[(labels["topic"], int(labels["partition"]))] = value
            elif name == "scorestream_dead_letters_total":
                out.dead_letters[labels["reason"]] = value
            elif name == "scorestream_duplicates_total":
                out.duplicates = value
            elif name == "scorestream_scorecards_written_total":
                out.scorecards = value
            elif name == "scorestream_scoring_cpu_seconds_total":
                out.scoring_cpu = value
            elif name == "scorestream_rep_planning_cpu_seconds_total":
                out.planning_cpu = value
    return out


def delta(before: Scrape, after: Scrape, histogram: str) -> Buckets:
    """The buckets of ``histogram`` observed between the two scrapes."""
    then, now = before.histograms.get(histogram, {}), after.histograms.get(histogram, {})
    return [(le, now[le] - then.get(le, 0.0)) for le in sorted(now)]


def reps_scored(before: Scrape, after: Scrape) -> float:
    return after.sums.get(BATCH_REPS, 0.0) - before.sums.get(BATCH_REPS, 0.0)


def us_per_rep(spans: Iterable[tuple[Scrape, Scrape]], *, planning: bool = False) -> float:
    """CPU microseconds to score one rep over the (before, after) ``spans``: the scoring CPU
    they add up to over the reps they scored; nan when they scored none. ``planning``: the
    whole of a rep's planning (rules, card changes, score events) instead."""
    cpu = reps = 0.0
    for before, after in spans:
        if planning:
            cpu += after.planning_cpu - before.planning_cpu
        else:
            cpu += after.scoring_cpu - before.scoring_cpu
        reps += reps_scored(before, after)
    return cpu / reps * 1e6 if reps > 0 else math.nan


@dataclass(frozen=True)
class Quantile:
    value: float
    capped: bool
    """It fell in the +Inf bucket: ``value`` is only the largest finite bound."""

    def ms(self) -> float:
        """In milliseconds, inf when capped: above the last bucket only "more than" is known."""
        return math.inf if self.capped else self.value * 1000

    def show(self, unit: str = "ms") -> str:
        scaled = self.value * 1000 if unit == "ms" else self.value
        return f">{scaled:,.0f} {unit}" if self.capped else f"{scaled:,.1f} {unit}"


def quantile(buckets: Buckets, q: float) -> Quantile | None:
    """Linear interpolation inside the bucket holding the q-th observation, as Prometheus's
    histogram_quantile does: exact only at the bucket bounds."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(le):
                return Quantile(lower, capped=True)
            inside = cumulative - below
            share = (rank - below) / inside if inside > 0 else 1.0
            return Quantile(lower + (le - lower) * share, capped=False)
        lower, below = le, cumulative
    return Quantile(lower, capped=True)


def per_bucket(buckets: Buckets) -> str:
    """Non-cumulative counts, ``le: n`` per bucket."""
    out, below = [], 0.0
    for le, cumulative in buckets:
        out.append(f"{'+Inf' if math.isinf(le) else f'{le:g}'}: {cumulative - below:,.0f}")
        below = cumulative
    return ", ".join(out)
