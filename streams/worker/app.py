"""The faust app of ``scorestream worker``: topics, tables, agents, timers and web pages.

Wiring only: what runs is in ``agents`` (a CRM message's way starts at
``Agents.crm_events``), faust's internals in ``faust_adapter``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

import faust
from faust.types import TP

from schemas import topics
from schemas.settings import Settings
from scorers.clock import ClockMode
from scorers.rep_scoring import Layout
from sinks.redis_definitions import RedisDefinitionSink
from sinks.redis_scorecards import RedisScorecardSink
from streams.admin.definitions_topic import Read
from streams.runtime import connections
from streams.worker import faust_adapter
from streams.worker.agents import BEHIND_S, Agents
from streams.worker.definitions import DefinitionFollower
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import Topics
from streams.worker.progress import Consumer
from streams.worker.recovery_watch import RecoveryWatch
from streams.worker.shell import Shell
from streams.worker.state_table import TABLE_NAME, StateTable, declare_table
from streams.worker.teams import TeamHandler

TEAM_TABLES: Final = ("team-members", "team-index", "team-as-of")
"""``TeamHandler``'s tables: each member's latest inputs, each team's members, each team's
latest as-of day."""
TABLES: Final = (TABLE_NAME, *TEAM_TABLES)
"""Every table of the worker, each backed by a compacted changelog topic."""
RECOVERY_CHECK_S: Final = 5.0
"""How often the worker looks whether its table recovery has stalled (``RecoveryWatch``)."""
REDIS_CHECK_S: Final = 2.0
"""How often the worker checks that Redis still holds its marker (that it lost no data)."""
TEAM_INTERVAL_S: Final = 0.5
"""How often team scorecards are brought up to date with their members: each run sums every
member's inputs per team and window, so twice a second, not after every batch."""
SESSION_TIMEOUT_S: Final = 10.0
"""A worker that dies without leaving its group (kill -9, a lost machine) holds its
partitions until the broker gives up on it: 10 s, not faust's 60, so another worker takes
over soon. Heartbeats go every second from their own task, far inside it."""
REBALANCE_TIMEOUT_S: Final = 20.0
"""How long a rebalance waits for every member to rejoin (faust's default is 60 s): members
rejoin within a batch (at most a second or two), and a worker started or stopped during a
rebalance waits out at most this."""
PRODUCER_BATCH_BYTES: Final = 512 * 1024
"""Largest record batch the worker's producer builds per partition: under the broker's
default 1 MB ``message.max.bytes``. With aiokafka's 16 kB, each send of a batch's hundreds
of score events and changelog records waited for the one before to reach the broker."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    clock: ClockMode = ClockMode.WALL
    data_dir: Path = Path(".local/worker")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    app_id: str = topics.named("scorestream")


def create_app(settings: Settings, versions: Read, options: WorkerOptions) -> faust_adapter.App:
    """The worker, scoring with the version in force in ``versions`` (the definitions topic
    as read at start) and following the topic from where that read ended."""
    in_force = versions.versions.in_force
    assert in_force is not None, "the worker starts with a version in force"
    app = _faust_app(settings, options)
    raw: dict[str, Any] = dict(key_type=bytes, value_type=bytes, key_serializer="raw",
                               value_serializer="raw")  # fmt: skip
    crm = app.topic(*topics.CRM_INPUTS, **raw)
    teams_topic = app.topic(topics.team_updates(options.app_id), internal=True, **raw)
    metrics = WorkerMetrics()
    sink = connections.scorecard_sink(settings)
    outputs = Topics(topics.CRM_INPUTS, topics.DLQ, topics.UPDATES, topics.ALERTS,
                     teams_topic.get_topic_name())  # fmt: skip
    consumer = Consumer(
        lambda: _assigned(app), lambda tp: _stable_end(app, tp),
        lambda tp: faust_adapter.committed_offset(app.consumer, TP(*tp)),
        lambda tp: _rewinding(app).fetched(TP(*tp)),
    )  # fmt: skip
    shell = Shell(
        Layout.of(in_force.definition, in_force.version, versions.versions.kept_days),
        options.clock,
        StateTable(app, settings.partitions, _produce(app)), sink, _send(app), outputs,
        consumer, metrics, behind_s=BEHIND_S,
    )  # fmt: skip
    members, index, as_of = (declare_table(app, name, str) for name in TEAM_TABLES)
    agents = Agents(
        shell, TeamHandler(in_force.definition, in_force.version, members, index, as_of, sink),
        DefinitionFollower(settings, versions,
                           RedisDefinitionSink(sink.calls, settings.redis_prefix), metrics),
        sink, metrics, lambda: faust_adapter.ready(app), faust_adapter.exit_failed,
    )  # fmt: skip
    app.agent(crm, concurrency=1)(agents.crm_events)
    app.agent(teams_topic, concurrency=1)(agents.team_updates)
    app.timer(TEAM_INTERVAL_S)(agents.write_teams)
    app.timer(REDIS_CHECK_S)(agents.check_redis)
    app.on_partitions_revoked.connect(agents.on_revoked)  # type: ignore[arg-type]
    watch = RecoveryWatch(
        lambda: faust_adapter.recovery_left(app), lambda: faust_adapter.recovery_report(app)
    )
    app.every(RECOVERY_CHECK_S, watch.check)
    _operations(app, options, shell, sink, metrics)
    return app


def _operations(
    app: faust.App,
    options: WorkerOptions,
    shell: Shell,
    sink: RedisScorecardSink,
    metrics: WorkerMetrics,
) -> None:
    """/health and /metrics. (``kill -USR1 PID`` has mode, under faust, print every thread's
    and task's stack: where a hung worker waits.)"""

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        ready = faust_adapter.ready(app)
        status = "recovering" if not ready else "ready" if sink.calls.available else "degraded"
        body = {"status": status, "clock": options.clock.value}
        return web.json(body, status=200 if status == "ready" else 503)

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        metrics.redis_available.set(1 if sink.calls.available else 0)
        metrics.set_lag(shell.lag())
        return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")


def run(app: faust.App) -> NoReturn:
    """Run the worker until stopped. Our structlog set-up stays: faust must not replace the
    root logger or stdout."""
    worker = faust_adapter.DeadlineWorker(
        app, loglevel="WARNING", override_logging=False, redirect_stdouts=False
    )
    worker.execute_from_commandline()


def _faust_app(settings: Settings, options: WorkerOptions) -> faust_adapter.App:
    return faust_adapter.App(
        options.app_id,
        **connections.faust_app_kwargs(settings),
        store="rocksdb://",
        datadir=str(options.data_dir),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # Every message and table value is bytes we encode ourselves (JSON via orjson).
        key_serializer="raw",
        value_serializer="raw",
        table_standby_replicas=0,
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=REBALANCE_TIMEOUT_S,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_max_request_size=4 * PRODUCER_BATCH_BYTES,
        web_enabled=True,
        web_host=options.web_host,
        web_port=options.web_port,
        web_in_thread=False,
        # faust's own pages answer anyone who reaches the port: /table/... dumps state
        # (every rep's counters), /router and the stats pages tell where keys live. The
        # worker serves /health and /metrics only.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
    )


def _assigned(app: faust.App) -> set[tuple[str, int]]:
    return {(tp.topic, tp.partition) for tp in app.consumer.assignment()}


def _rewinding(app: faust.App) -> faust_adapter.RewindingConsumer:
    consumer = app.consumer
    assert isinstance(consumer, faust_adapter.RewindingConsumer)
    return consumer


def _stable_end(app: faust.App, tp: tuple[str, int]) -> int | None:
    return _rewinding(app).stable_end(TP(*tp))


def _produce(app: faust.App) -> Any:
    async def produce(topic: str, key: bytes, value: bytes | None, partition: int) -> Any:
        return await app.producer.send(topic, key, value, partition, None, None)

    return produce


def _send(app: faust.App) -> Any:
    # Straight to the app's producer, past faust's per-message Topic machinery (a third of
    # the cost of a send). A batch waits for its sends' deliveries before it is acked
    # (``outputs.delivered``): faust's flush before a commit would not fail on a refused one.
    async def send(topic: str, key: bytes, value: bytes) -> Any:
        return await app.producer.send(topic, key, value, None, None, None)

    return send
