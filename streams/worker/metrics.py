"""The worker's Prometheus metrics, one registry per worker (tests build several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from streams.worker.progress import Lag

BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000)
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10,
    30, 60, 120, 300,
)  # fmt: skip
"""Seconds; fine around the 100 ms aim, so a p99 there is not smeared over a wide bucket."""
"""Sizes of a batch, in messages or in reps (a batch holds at most 2,000 messages)."""


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_in = Counter(
            "scorestream_events_in", "CRM messages consumed", ["topic"], registry=self.registry
        )
        self.dead_letters = Counter(
            "scorestream_dead_letters",
            "Messages sent to crm.dlq",
            ["reason"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "scorestream_duplicates", "Redelivered events counted once", registry=self.registry
        )
        self.scorecards = Counter(
            "scorestream_scorecards_written", "Scorecards written to Redis", registry=self.registry
        )
        self.internal_errors = Counter(
            "scorestream_internal_errors",
            "Reps whose scoring raised (logged with the traceback; the worker goes on)",
            registry=self.registry,
        )
        self.state_records = Counter(
            "scorestream_state_records",
            "State table records written (one changelog message each)",
            registry=self.registry,
        )
        self.redis_available = Gauge(
            "scorestream_redis_available",
            "1 while Redis answers the worker, 0 while it waits for Redis to come back",
            registry=self.registry,
        )
        self.alerts = Counter(
            "scorestream_alerts", "Coaching alerts raised", ["rule"], registry=self.registry
        )
        self.lag = Gauge(
            "scorestream_consumer_lag",
            "Messages behind the end of each input partition this worker holds",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.batch = Histogram(
            "scorestream_batch_messages",
            "CRM messages handled as one batch (each rep in it scored once)",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_reps = Histogram(
            "scorestream_batch_reps",
            "Reps scored per batch",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.scoring_cpu = Counter(
            "scorestream_scoring_cpu_seconds",
            "CPU time spent scoring reps (score_rep: every window's card); divided by"
            " scorestream_batch_reps_sum it is the CPU cost of scoring one rep",
            registry=self.registry,
        )
        self.planning_cpu = Counter(
            "scorestream_rep_planning_cpu_seconds",
            "CPU time spent planning the reps scored: their totals, scores, rules, card"
            " changes and score events (scoring_cpu is part of it)",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "scorestream_batch_seconds",
            "Time to handle one batch: plan, state, Redis and sends",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.arrival = Histogram(
            "scorestream_arrival_seconds",
            "From the Kafka record timestamp to the worker holding the message (Kafka and faust)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "scorestream_event_to_redis_seconds",
            "From the Kafka record timestamp to the scorecard written in Redis",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.definition_version = Gauge(
            "scorestream_definition_version",
            "The scorecard definition version in force",
            registry=self.registry,
        )
        self.definition_latest = Gauge(
            "scorestream_definition_latest_version",
            "The highest version read from scorecards.definitions (above the one in force:"
            " this worker refused it)",
            registry=self.registry,
        )
        self.definitions_refused = Counter(
            "scorestream_definitions_refused",
            "Scorecard versions (or records) this worker could not use; the version before"
            " stays in force and the log says why",
            registry=self.registry,
        )

    def set_lag(self, lag: Lag) -> None:
        """The lag gauge holds the partitions in ``lag`` only (-1: end not known yet). A
        partition this worker no longer holds leaves it: its lag is its new owner's to report,
        and a value kept here would stay frozen. Synchronous: on the worker's one event loop,
        no scrape runs between the clear and the sets."""
        self.lag.clear()
        for (topic, partition), n in lag.items():
            self.lag.labels(topic, str(partition)).set(-1 if n is None else n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
