"""Creating, checking and deleting topics, with confluent-kafka's AdminClient.

Why explicit provisioning: the broker runs with ``auto.create.topics.enable=false``,
so a producer typo fails loudly instead of creating a one-partition topic, and the
activity topics are created together with one partition count, the precondition
for co-partitioning (every rep's events of every kind on the same partition
number, so one worker owns the rep's whole state).

Blocking client calls only: these run from the CLI and tests, never on the faust
event loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import structlog
from confluent_kafka import KafkaError, KafkaException

# Documented public names that the admin package re-exports implicitly (mypy --strict objects).
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ClusterMetadata,
    ConfigResource,
    NewTopic,
)

from schemas import topics
from schemas.settings import Settings
from streams.runtime import connections
from streams.runtime.exceptions import KafkaUnavailableError, TopicsError

log = structlog.get_logger()

_REPLICATION_CODES: Final = frozenset(
    {KafkaError.INVALID_REPLICATION_FACTOR, KafkaError.POLICY_VIOLATION}
)
"""A cluster with fewer brokers than copies, or one whose policy wants more (3 on managed)."""

COMPACTED: Final[Mapping[str, str]] = {"cleanup.policy": "compact"}
"""Keep the latest record per key, forever."""
COPARTITIONED: Final = topics.CRM_INPUTS
"""Keyed by rep_id and read side by side by the worker: one partition count or wrong joins."""

TOPIC_CONFIGS: Final[Mapping[str, Mapping[str, str]]] = {
    # The rep directory: latest record per rep is all that matters, forever.
    topics.REPS: COMPACTED,
    # One record per dead letter sent back: the redrive's memory, kept as long as the DLQ.
    topics.DLQ_REDRIVEN: COMPACTED,
    # One key per scorecard version: compaction never drops one, and time never does.
    topics.DEFINITIONS: COMPACTED,
}
TOPIC_PARTITIONS: Final[Mapping[str, int]] = {
    # Versions are read in the order they were published: one partition.
    topics.DEFINITIONS: 1,
}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What a topic should look like."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicOutcome:
    """What provisioning found or did for one topic."""

    name: str
    status: Literal["created", "exists"]
    partitions: int
    expected_partitions: int
    config: Mapping[str, str]
    config_drift: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    """Config key -> (wanted, actual) for an existing topic whose config differs."""

    @property
    def copartitioned(self) -> bool:
        return self.name in COPARTITIONED

    @property
    def partition_mismatch(self) -> bool:
        """True when this topic must share the activity topics' partition count but does not."""
        return self.copartitioned and self.partitions != self.expected_partitions

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "partitions": self.partitions,
            "expected_partitions": self.expected_partitions,
            "copartitioned": self.copartitioned,
            "partition_mismatch": self.partition_mismatch,
            "config": dict(self.config),
            "config_drift": {k: list(v) for k, v in self.config_drift.items()},
        }


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    """The outcome per topic, in the order of ``schemas.topics.ALL_TOPICS``."""

    bootstrap: str
    topics: tuple[TopicOutcome, ...]

    @property
    def created(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics if t.status == "created")

    @property
    def existing(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics if t.status == "exists")

    @property
    def mismatched(self) -> tuple[TopicOutcome, ...]:
        """Existing co-partitioned topics with another partition count: the worker mis-joins."""
        return tuple(t for t in self.topics if t.partition_mismatch)

    @property
    def drifted(self) -> tuple[TopicOutcome, ...]:
        return tuple(t for t in self.topics if t.config_drift)

    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.drifted

    def to_dict(self) -> dict[str, Any]:
        return {
            "bootstrap": self.bootstrap,
            "ok": self.ok,
            "created": list(self.created),
            "existing": list(self.existing),
            "topics": [t.to_dict() for t in self.topics],
        }


def topic_specs(partitions: int) -> tuple[TopicSpec, ...]:
    """Every Scorestream topic with the given partition count (pure: the plan, no I/O)."""
    if partitions < 1:
        raise TopicsError(f"partitions must be >= 1, got {partitions}")
    return tuple(
        TopicSpec(name, TOPIC_PARTITIONS.get(name, partitions), dict(TOPIC_CONFIGS.get(name, {})))
        for name in topics.ALL_TOPICS
    )


def cluster_metadata(
    admin: AdminClient, bootstrap: str, timeout_s: float = 10.0
) -> ClusterMetadata:
    """All topics' metadata, or a KafkaUnavailableError that says how to start the broker."""
    try:
        return admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise KafkaUnavailableError(
            f"Kafka at {bootstrap} did not answer a metadata request within {timeout_s:g}s"
            f" ({exc.args[0] if exc.args else exc}); start it with `make up`"
        ) from None


def create_topics(
    settings: Settings, partitions: int, *, timeout_s: float = 30.0
) -> ProvisionReport:
    """Create the missing Scorestream topics; report, never alter, the ones that exist.

    Idempotent: a second run reports every topic as existing. An existing
    co-partitioned topic with another partition count, or crm.reps without
    compaction, is reported and logged as a warning; fixing it means deleting the
    topic (data loss), a decision for a person, not for this function.
    """
    specs = topic_specs(partitions)
    bootstrap = settings.kafka_bootstrap
    admin = connections.kafka_admin(settings)
    metadata = cluster_metadata(admin, bootstrap)
    missing = [s for s in specs if s.name not in metadata.topics]
    created = _create(admin, missing, settings.replication_factor, timeout_s)
    actual_configs = _describe_configs(
        admin, [s for s in specs if s.config and s.name not in created], timeout_s
    )

    outcomes: list[TopicOutcome] = []
    for spec in specs:
        if spec.name in created:
            outcome = TopicOutcome(
                spec.name, "created", spec.partitions, spec.partitions, spec.config
            )
        else:
            # Created concurrently by someone else: metadata may not list it yet.
            existing = metadata.topics.get(spec.name) or cluster_metadata(
                admin, bootstrap
            ).topics.get(spec.name)
            actual_partitions = (
                len(existing.partitions) if existing is not None else spec.partitions
            )
            actual = actual_configs.get(spec.name, {})
            drift = {
                key: (wanted, actual.get(key))
                for key, wanted in spec.config.items()
                if spec.name in actual_configs and actual.get(key) != wanted
            }
            outcome = TopicOutcome(
                spec.name, "exists", actual_partitions, spec.partitions, spec.config, drift
            )
        outcomes.append(outcome)
        _log_outcome(outcome)

    report = ProvisionReport(bootstrap, tuple(outcomes))
    log.info(
        "topics provisioned",
        bootstrap=bootstrap,
        created=len(report.created),
        existing=len(report.existing),
        ok=report.ok,
    )
    return report


def _create(
    admin: AdminClient, specs: list[TopicSpec], replication_factor: int, timeout_s: float
) -> set[str]:
    """Create topics in one request; the names created (losing an 'already exists' race is fine)."""
    if not specs:
        return set()
    new_topics = [
        NewTopic(
            s.name,
            num_partitions=s.partitions,
            replication_factor=replication_factor,
            config=dict(s.config),
        )
        for s in specs
    ]
    futures = admin.create_topics(
        new_topics, operation_timeout=timeout_s, request_timeout=timeout_s
    )
    created: set[str] = set()
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s + 5)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            fix = ""
            if isinstance(error, KafkaError) and error.code() in _REPLICATION_CODES:
                fix = f"; set SCORESTREAM_REPLICATION_FACTOR (now {replication_factor})"
            raise TopicsError(f'cannot create topic "{name}": {error or exc}{fix}') from None
        created.add(name)
    return created


def _describe_configs(
    admin: AdminClient, specs: Iterable[TopicSpec], timeout_s: float
) -> dict[str, dict[str, str | None]]:
    """The broker's current values of the config keys we set, per existing topic."""
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in specs]
    if not resources:
        return {}
    result: dict[str, dict[str, str | None]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items():
        try:
            entries = future.result(timeout=timeout_s + 5)
        except KafkaException as exc:
            raise TopicsError(
                f'cannot describe the config of topic "{resource.name}": {exc}'
            ) from None
        result[resource.name] = {key: entry.value for key, entry in entries.items()}
    return result


def _log_outcome(outcome: TopicOutcome) -> None:
    if outcome.partition_mismatch:
        log.warning(
            "existing topic has a different partition count; co-partitioning by rep_id is broken",
            topic=outcome.name,
            partitions=outcome.partitions,
            expected=outcome.expected_partitions,
            fix="delete and re-create the co-partitioned topics with one count",
        )
    for key, (wanted, actual) in outcome.config_drift.items():
        log.warning(
            "existing topic has a different config",
            topic=outcome.name,
            key=key,
            wanted=wanted,
            actual=actual,
        )
    log.debug("topic", topic=outcome.name, status=outcome.status, partitions=outcome.partitions)


def delete_project_topics(
    settings: Settings, app_id: str, *, timeout_s: float = 60.0
) -> tuple[str, ...]:
    """Delete every Scorestream topic and the worker's internal topics (``<app_id>-*``).

    Waits until the broker no longer lists them, so they can be created again at once.
    """
    bootstrap = settings.kafka_bootstrap
    admin = connections.kafka_admin(settings)
    existing = cluster_metadata(admin, bootstrap).topics
    doomed = sorted(
        name for name in existing if name in topics.ALL_TOPICS or name.startswith(f"{app_id}-")
    )
    if doomed:
        for name, future in admin.delete_topics(doomed, operation_timeout=timeout_s).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise TopicsError(
                        f'cannot delete topic "{name}": {exc.args[0].str()}'
                    ) from None
    deadline = time.monotonic() + timeout_s
    while set(doomed) & set(cluster_metadata(admin, bootstrap).topics):
        if time.monotonic() > deadline:
            raise TopicsError(f"topics still listed {timeout_s:g}s after deletion: {doomed}")
        time.sleep(0.2)
    log.info("topics deleted", bootstrap=bootstrap, topics=len(doomed))
    return tuple(doomed)


def delete_consumer_group(settings: Settings, group: str, *, timeout_s: float = 90.0) -> bool:
    """Delete a consumer group's committed offsets; False when it did not exist.

    A worker that was killed stays a member until its session times out, so a group
    that is not empty is retried until ``timeout_s``; a live worker must be stopped.
    """
    admin = connections.kafka_admin(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        future = admin.delete_consumer_groups([group], request_timeout=30)[group]
        try:
            future.result()
            return True
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() in (KafkaError.GROUP_ID_NOT_FOUND, KafkaError.NOT_COORDINATOR):
                return False
            if error.code() != KafkaError.NON_EMPTY_GROUP or time.monotonic() > deadline:
                raise TopicsError(
                    f'cannot delete consumer group "{group}": {error.str()};'
                    " stop the workers of that group first"
                ) from None
        log.info("consumer group still has members; waiting", group=group)
        time.sleep(2)


def ensure_internal_topics(settings: Settings, specs: Sequence[TopicSpec]) -> None:
    """Create the worker's internal topics that are missing and wait until they have leaders.

    faust would declare them itself, but only as it starts: a consumer that subscribes
    before a topic is listed skips it until its next metadata refresh (minutes), and a
    table whose changelog is listed without partitions yet crashes its agent with
    PartitionsMismatch for good."""
    _create(connections.kafka_admin(settings), list(specs), settings.replication_factor, 30.0)
    wait_for_topics(settings, [s.name for s in specs])


def wait_for_topics(settings: Settings, names: Iterable[str], *, timeout_s: float = 30.0) -> None:
    """Wait until every topic is listed with a leader for each partition.

    A consumer that starts while a topic is missing (or just re-created) skips it until
    its next metadata refresh, minutes later; failing here says what to do instead.
    """
    admin = connections.kafka_admin(settings)
    wanted = set(names)
    deadline = time.monotonic() + timeout_s
    while True:
        listed = cluster_metadata(admin, settings.kafka_bootstrap).topics
        missing = sorted(
            name
            for name in wanted
            if name not in listed
            or not listed[name].partitions
            or any(p.leader < 0 for p in listed[name].partitions.values())
        )
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TopicsError(
                f"topics missing or without a leader after {timeout_s:g}s: {', '.join(missing)};"
                " create them with `scorestream topics create`"
            )
        time.sleep(0.2)
