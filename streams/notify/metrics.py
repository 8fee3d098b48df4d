"""notify's Prometheus metrics, one registry per service (tests build several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 86400)
"""Seconds from the alert's ``raised_at`` to the receiver's answer: sub-second when all is
well, minutes while a channel is down, hours for quiet hours."""


class NotifyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sent = Counter("scorestream_notify_sent", "Alerts a receiver took",
                            ["channel"], registry=self.registry)  # fmt: skip
        self.retried = Counter(
            "scorestream_notify_retried", "Sends tried again (429, 5xx, timeouts)",
            ["channel"], registry=self.registry,
        )  # fmt: skip
        self.parked = Counter(
            "scorestream_notify_parked", "Alerts parked: down (retried in the background),"
            " refused (waits for `notify redrive`), held (quiet hours)",
            ["channel", "reason"], registry=self.registry,
        )  # fmt: skip
        self.repeats = Counter(
            "scorestream_notify_skipped_repeats", "Redelivered alerts already sent or parked",
            ["channel"], registry=self.registry,
        )  # fmt: skip
        self.unreadable = Counter("scorestream_notify_unreadable",
                                  "Messages on the alerts topic that are not a CoachingAlert",
                                  registry=self.registry)  # fmt: skip
        self.latency = Histogram(
            "scorestream_notify_delivery_latency_seconds",
            "From the alert's raised_at to the receiver's answer", ["channel"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.channel_up = Gauge("scorestream_notify_channel_up",
                                "1 while the channel's receiver takes alerts, 0 while parked",
                                ["channel"], registry=self.registry)  # fmt: skip
