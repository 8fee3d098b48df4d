"""The gateway's Prometheus metrics, one registry per app (tests build several)."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

PRODUCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Seconds from the first produce of a request to its last delivery report."""
UNKNOWN_SOURCE: Final = "unknown"
"""The ``source`` label of a request to a hook that is not served: one series for them all."""


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "scorestream_ingest_accepted", "Events stored on their topics and acknowledged",
            ["source"], registry=self.registry,
        )  # fmt: skip
        self.rejected = Counter(
            "scorestream_ingest_rejected", "Events refused, by reason",
            ["source", "reason"], registry=self.registry,
        )  # fmt: skip
        self.refused = Counter(
            "scorestream_ingest_requests_refused", "Requests answered 4xx/5xx, by status",
            ["source", "status"], registry=self.registry,
        )  # fmt: skip
        self.produce_seconds = Histogram(
            "scorestream_ingest_produce_seconds", "Time for Kafka to take a request's events",
            buckets=PRODUCE_BUCKETS, registry=self.registry,
        )  # fmt: skip
