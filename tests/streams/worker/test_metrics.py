"""The worker's /metrics: the lag gauge names the partitions the worker holds now, no others."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from streams.worker.metrics import WorkerMetrics


def lag_samples(metrics: WorkerMetrics) -> dict[tuple[str, str], float]:
    text = metrics.exposition().decode()
    return {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "scorestream_consumer_lag"
    }


def test_a_partition_given_up_leaves_the_lag_gauge() -> None:
    """After a rebalance took crm.calls 1 away and brought crm.nps 2, a scrape shows the
    partitions held now; an unknown end reads -1."""
    metrics = WorkerMetrics()
    metrics.set_lag({("crm.calls", 0): 5, ("crm.calls", 1): 7})
    assert lag_samples(metrics) == {("crm.calls", "0"): 5, ("crm.calls", "1"): 7}

    metrics.set_lag({("crm.calls", 0): 0, ("crm.nps", 2): None})
    assert lag_samples(metrics) == {("crm.calls", "0"): 0, ("crm.nps", "2"): -1}

    metrics.set_lag({})  # nothing held (a rebalance under way)
    assert lag_samples(metrics) == {}
