"""The faust app of ``scorestream worker``: topics, tables, agents, timer and web pages.

Wiring only: what happens to a message is in ``event_handler`` and ``team_handler``,
the scoring in ``scorers``, the Redis writes in ``sinks``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import structlog

from schemas import topics
from schemas.scorecard_definition import ScorecardDefinition
from schemas.settings import Settings
from scorers.calendar import zone_of
from scorers.rep_scoring import RepScoring
from streams import connections
from streams.worker.alerting import Alerting
from streams.worker.batching import Batcher
from streams.worker.clock import Clock, ClockMode
from streams.worker.event_handler import EventHandler, Message, Send, Senders
from streams.worker.metrics import WorkerMetrics
from streams.worker.score_events import CardHistory
from streams.worker.table_store import ROCKSDB_OPTIONS, StateTables
from streams.worker.team_handler import TeamHandler

log = structlog.get_logger()

RESCORE_INTERVAL_S = 1.0
"""How often the worker checks whether the as-of day moved (wall or event clock)."""
RESCORE_BEHIND_S = 10.0
"""While a backlog is read (after downtime, or history on the event clock, where the day
moves every few hundred events) every rep is scored again at most this often, not on
every new day: those scorecards would be stale before anyone read them."""
BATCH_MAX = 2000
"""Most CRM messages handled as one batch (each rep in it scored once)."""
BATCH_AGE_S = 0.05
"""A batch is scored and written once its first message is this old: the latency a
message may pay so that the reps of a busy stream are scored once for several events."""
BEHIND_S = 5.0
"""A worker whose newest message is older than this is catching up (a backlog, or more
input than it handles) ..."""
CATCH_UP_BATCH_AGE_S = 1.0
"""... and lets its batches grow this old: fewer scorings per event, so it catches up."""
TEAM_INTERVAL_S = 0.05
"""How often team scorecards are brought up to date with their members."""
PRODUCER_BATCH_BYTES = 512 * 1024
"""Largest record batch the worker's producer builds per partition: under the broker's
default 1 MB ``message.max.bytes``."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    clock: ClockMode = ClockMode.WALL
    data_dir: Path = Path(".local/worker")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    app_id: str = "scorestream"
    store: str = "rocksdb://"
    """``memory://`` only in tests that don't restart the worker."""


def team_topic_name(app_id: str) -> str:
    return f"{app_id}-team-updates"


def create_app(
    settings: Settings, definition: ScorecardDefinition, options: WorkerOptions
) -> tuple[faust.App, EventHandler]:
    rocksdb = options.store.startswith("rocksdb")
    app = faust.App(
        options.app_id,
        **connections.faust_app_kwargs(settings),
        store=options.store,
        datadir=str(options.data_dir),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # Every message and table value is bytes we encode ourselves (JSON via orjson).
        key_serializer="raw",
        value_serializer="raw",
        table_standby_replicas=0,
        # A batch sends hundreds of score events and changelog records at once: with
        # aiokafka's 16 kB batches each send waited for the one before to reach the broker.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_max_request_size=4 * PRODUCER_BATCH_BYTES,
        web_enabled=True,
        web_host=options.web_host,
        web_port=options.web_port,
        web_in_thread=False,
    )
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    crm_topic = app.topic(*topics.CRM_INPUTS, **raw)
    dlq_topic = app.topic(topics.DLQ, **raw)
    updates_topic = app.topic(topics.UPDATES, **raw)
    alerts_topic = app.topic(topics.ALERTS, **raw)
    team_topic = app.topic(
        team_topic_name(options.app_id), internal=True, partitions=settings.partitions, **raw
    )
    tables = StateTables(app, settings.partitions, rocksdb)

    def table(name: str) -> Any:
        return app.Table(
            name,
            key_type=str,
            value_type=bytes,
            partitions=settings.partitions,
            options=dict(ROCKSDB_OPTIONS) if rocksdb else None,
        )

    team_members, team_index = table("team-members"), table("team-index")
    sink = connections.scorecard_sink(settings)
    client = connections.redis_client(settings)
    metrics = WorkerMetrics()
    scoring = RepScoring(definition)
    clock = Clock(options.clock, zone_of(definition.timezone))

    def sender(topic: Any, *, acked: bool = False) -> Send:
        # Straight to the app's producer, past faust's per-message Topic machinery (a
        # third of the cost of a send, and its buffer stops on shutdown while the last
        # batch may still be sending); faust still flushes this producer before it
        # commits input offsets, so an output is never lost behind a commit.
        name = topic.get_topic_name()

        async def send(key: bytes, value: bytes) -> None:
            delivery = await app.producer.send(name, key, value, None, None, None)
            if acked:
                await delivery

        return send

    send = Senders(
        dead_letter=sender(dlq_topic), team_update=sender(team_topic), update=sender(updates_topic)
    )
    history = CardHistory(client, settings.redis_prefix)
    # Alerts must not be marked sent before Kafka has them: each waits for the broker's ack.
    alerting = Alerting(definition, client, settings.redis_prefix, sender(alerts_topic, acked=True))
    handler = EventHandler(
        definition, tables, clock, scoring, sink, history, alerting, send, metrics
    )
    teams = TeamHandler(definition, team_members, team_index, sink)
    last_offsets: dict[tuple[str, int], int] = {}
    batches = Batcher(
        handler, metrics, max_messages=BATCH_MAX, max_age_s=BATCH_AGE_S,
        catch_up_age_s=CATCH_UP_BATCH_AGE_S, behind_s=BEHIND_S,
    )  # fmt: skip

    @app.agent(crm_topic, concurrency=1)
    async def crm_events(stream: Any) -> None:
        # NOTE: no `yield` -- a pure consumer; concurrency=1 keeps offset commits in order.
        # Acked by the batcher, by hand, once a message's batch is written.
        acked = stream.noack()
        batches.ack = acked.ack
        timer = batches.start_timer(BATCH_AGE_S / 2)
        try:
            async for event in acked.events():
                m = event.message
                await batches.add(
                    event,
                    Message(event.key, event.value, m.topic, m.partition, m.offset, m.timestamp),
                )
                last_offsets[(m.topic, m.partition)] = m.offset
        finally:
            # Stopping: write and ack the open batch, or faust waits for its acks.
            await batches.end_open()
            timer.cancel()

    @app.agent(team_topic, concurrency=1)
    async def team_updates(stream: Any) -> None:
        async for value in stream:
            teams.handle(value)

    @app.timer(TEAM_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def write_teams() -> None:
        """Score the teams whose members moved since the last time, in one Redis write."""
        if ready():
            await teams.score_marked()

    last_rescored: list[int | None] = [None]

    def ready() -> bool:
        """Tables recovered and no rebalance under way: state can be read and scored."""
        recovery = app.tables.recovery  # type: ignore[attr-defined]
        return not app.rebalancing and bool(recovery.completed.is_set())

    last_rescore_at = [0.0]

    @app.timer(RESCORE_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def slide_windows() -> None:
        """Score every rep again when the as-of day moved, so windows slide for quiet reps."""
        if not ready():
            return
        due = handler.rescore_pending or (
            options.clock is ClockMode.WALL and clock.as_of() != last_rescored[0]
        )
        if not due:
            return
        behind = any(input_lag().values())
        if behind and time.monotonic() - last_rescore_at[0] < RESCORE_BEHIND_S:
            return
        count = await batches.between_batches(handler.rescore_all)
        last_rescored[0], last_rescore_at[0] = clock.as_of(), time.monotonic()
        log.info("rescored", reps=count, as_of=last_rescored[0], behind=behind)

    def input_lag() -> dict[tuple[str, int], int]:
        """Messages not yet handled per assigned input partition (0 where unknown)."""
        lag = {}
        for tp in app.consumer.assignment():
            if tp.topic in crm_topic.topics:
                processed = last_offsets.get((tp.topic, tp.partition), -1) + 1
                highwater = app.consumer.highwater(tp) or 0
                lag[(tp.topic, tp.partition)] = max(0, highwater - processed)
        return lag

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, *_: Any, **__: Any) -> None:
        scoring.forget()
        teams.forget()
        history.forget()
        alerting.forget()
        handler.forget()

    @app.task  # type: ignore[untyped-decorator]
    async def resend_pending_alerts() -> None:
        if count := await alerting.resend_pending():
            log.info("alerts_resent", count=count)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        ok = ready()
        body = {"status": "ready" if ok else "recovering", "clock": options.clock.value}
        return web.json(body, status=200 if ok else 503)

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        for (topic, partition), lag in input_lag().items():
            metrics.lag.labels(topic, str(partition)).set(lag)
        return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")

    return app, handler
