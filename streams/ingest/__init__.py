"""``scorestream ingest``: the HTTP door CRMs call. It writes to Kafka and nothing else."""
