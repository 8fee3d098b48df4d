"""The worker's shell on in-memory stores: the same interfaces as the faust table, the Redis
sink and the producer, so what the shell writes can be read back and checked.

A log handled by the shell leaves the replay's cards in the sink and every malformed line
on the dead-letter topic; the same batch delivered again sends no score event and leaves the
cards as they were; a new shell over the same stored state (a restart) scores the same cards
without writing them again."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import topics
from schemas.access import DirectoryUpdate
from schemas.events import TOPIC_OF_EVENT_TYPE
from schemas.outputs import CoachingAlert
from schemas.scorecard_definition import load_definition
from scorers.calendar import Day
from scorers.clock import ClockMode
from scorers.effects import CardKey, CardUpdate
from scorers.intake import Message
from scorers.rep_scoring import Layout
from scorers.replay import Replay
from scorers.scoring import Scorecard
from scorers.state import RepState, RepWrites
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import Topics
from streams.worker.progress import Consumer
from streams.worker.shell import Shell
from streams.worker.state_table import Loaded

NOW = datetime(2026, 5, 31, 20, 0, tzinfo=UTC)
DEFINITION = load_definition()


class MemoryStore:
    """``StateStore`` in memory: each partition's reps and clock, as the table would hold."""

    def __init__(self) -> None:
        self.reps: dict[int, dict[str, RepState]] = defaultdict(dict)
        self.clock: dict[int, dict[str, Day]] = defaultdict(dict)

    def load(self, partition: int) -> Loaded:
        copies = {r: s.copy() for r, s in self.reps[partition].items()}
        return Loaded(copies, dict(self.clock[partition]))

    async def write(self, partition: int, writes: RepWrites) -> None:
        reps = self.reps[partition]
        reps.setdefault(writes.rep_id, RepState(writes.rep_id)).apply(writes)

    async def write_clock(self, partition: int, source: str, day: Day) -> None:
        self.clock[partition][source] = day


class MemorySink:
    """The methods of ``RedisScorecardSink`` the shell calls, keeping what they were given."""

    def __init__(self) -> None:
        self.cards: dict[CardKey, Scorecard] = {}
        self.writes = 0
        self.alerts: list[CoachingAlert] = []
        self.alert_appends = 0
        self.directory: dict[str, DirectoryUpdate] = {}

    async def read_cards(self, keys: Sequence[CardKey]) -> dict[CardKey, Scorecard]:
        return {k: self.cards[k] for k in keys if k in self.cards}

    async def write(self, updates: Sequence[CardUpdate], updated_at: str) -> int:
        for update in updates:
            card = update.card
            assert card.rep_id is not None
            self.cards[(card.rep_id, card.window)] = card
        self.writes += len(updates)
        return len(updates)

    async def write_directory(self, updates: Mapping[str, DirectoryUpdate]) -> None:
        self.directory.update(updates)

    async def append_alerts(self, alerts: Sequence[CoachingAlert]) -> None:
        self.alerts.extend(alerts)
        self.alert_appends += 1


class Producer:
    """The producer's sends, delivered at once (Kafka refusing those to ``refusing``)."""

    def __init__(self, refusing: str | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.refusing = refusing

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic == self.refusing:
            done.set_exception(RuntimeError(f"{topic} refused the message"))
        else:
            done.set_result(None)
        return done

    def on(self, topic: str) -> list[tuple[bytes, bytes]]:
        return [(k, v) for t, k, v in self.sent if t == topic]


def the_log() -> list[Message]:
    """Three weeks of a small simulated org, two malformed lines inside, one partition."""
    simulator = Simulator(SimulationConfig(seed=5, teams=2, reps_per_team=3))
    offsets: dict[str, int] = defaultdict(int)
    messages = []
    for event in simulator.backfill(21, NOW):
        topic = TOPIC_OF_EVENT_TYPE[event.event_type]
        value = event.model_dump_json().encode()
        messages.append(Message(event.rep_id.encode(), value, topic, 0, offsets[topic], 0.0))
        offsets[topic] += 1
    for bad in (b"{not json", b'{"event_type": "call_logged"}'):
        messages.insert(
            len(messages) // 2, Message(b"r", bad, topics.CALLS, 0, offsets[topics.CALLS], 0.0)
        )
        offsets[topics.CALLS] += 1
    return messages


def shell_over(
    store: MemoryStore, sink: MemorySink, producer: Producer, log: list[Message]
) -> Shell:
    ends: dict[tuple[str, int], int] = defaultdict(int)
    for m in log:
        ends[(m.topic, m.partition)] = max(ends[(m.topic, m.partition)], m.offset + 1)
    consumer = Consumer(lambda: set(ends), lambda tp: ends.get(tp), lambda tp: None)
    outputs = Topics(topics.CRM_INPUTS, topics.DLQ, topics.UPDATES, topics.ALERTS, "teams")
    sink_: Any = sink  # the same methods as RedisScorecardSink, in memory
    return Shell(Layout.of(DEFINITION), ClockMode.WALL, store, sink_, producer.send, outputs,
                 consumer, WorkerMetrics(), behind_s=5.0, now=lambda: NOW)  # fmt: skip


def replayed(log: list[Message]) -> dict[CardKey, dict[str, object]]:
    engine = Replay(DEFINITION, as_of=NOW.date(), now=NOW)
    for n, m in enumerate(log, start=1):
        engine.feed(n, m.value or b"")
    return {(c.rep_id or "", c.window): c.to_dict() for c in engine.result().scorecards}


@pytest.mark.parametrize("refusing", [topics.UPDATES, topics.DLQ])
async def test_a_send_kafka_refuses_fails_the_batch(refusing: str) -> None:
    """A batch is acked once it returns: a score event or dead letter Kafka refused would be
    lost (faust's flush before a commit does not fail on it), so the batch fails."""
    log = the_log()
    store, sink, producer = MemoryStore(), MemorySink(), Producer(refusing)
    shell = shell_over(store, sink, producer, log)
    with pytest.raises(RuntimeError, match=f"{refusing} refused"):
        await shell.handle(log)
    assert producer.on(refusing)


async def test_a_log_leaves_the_replays_cards_and_redelivery_or_restart_changes_nothing() -> None:
    log = the_log()
    store, sink, producer = MemoryStore(), MemorySink(), Producer()
    shell = shell_over(store, sink, producer, log)
    for start in range(0, len(log), 500):
        await shell.handle(log[start : start + 500])
    want = replayed(log)
    assert {k: c.to_dict() for k, c in sink.cards.items()} == want and len(want) >= 6 * 4
    assert len(producer.on(topics.DLQ)) == 2
    score_events, writes = len(producer.on(topics.UPDATES)), sink.writes
    assert score_events > 0 and {r for p in store.reps.values() for r in p} == {
        rep for rep, _ in want
    }

    await shell.handle(log[-500:])  # redelivered after a crash before the commit
    assert len(producer.on(topics.UPDATES)) == score_events and sink.writes == writes
    assert {k: c.to_dict() for k, c in sink.cards.items()} == want

    restarted = shell_over(store, sink, producer, log)  # a new process, the same stores
    await restarted.handle(())
    assert restarted.memory.states.keys() == shell.memory.states.keys()
    assert sink.writes == writes and len(producer.on(topics.UPDATES)) == score_events
    assert {k: c.to_dict() for k, c in sink.cards.items()} == want


def outboxes(store: MemoryStore) -> dict[str, int]:
    """Alerts left in each rep's outbox: fired, not yet known to be on Kafka."""
    return {r: len(s.rules.outbox) for p in store.reps.values() for r, s in p.items()}


async def test_a_batchs_alerts_go_out_together_and_leave_the_outboxes_once_kafka_has_them() -> None:
    """Every rep's alerts of a batch: sent to Kafka keyed by the rep, waited for once, copied
    to the pages' stream in one call, then taken out of the outboxes. A refused one fails the
    batch with every outbox left as it was, so a restart sends them again."""
    log = the_log()
    store, sink, producer = MemoryStore(), MemorySink(), Producer()
    await shell_over(store, sink, producer, log).handle(log)
    on_kafka = producer.on(topics.ALERTS)
    assert len({key for key, _ in on_kafka}) >= 2, "the log fires alerts for several reps"
    assert sink.alert_appends == 1
    assert [a.model_dump_json().encode() for a in sink.alerts] == [v for _, v in on_kafka]
    assert {a.rep_id.encode() for a in sink.alerts} == {key for key, _ in on_kafka}
    assert not any(outboxes(store).values())

    store, sink, producer = MemoryStore(), MemorySink(), Producer(refusing=topics.ALERTS)
    with pytest.raises(RuntimeError, match=f"{topics.ALERTS} refused"):
        await shell_over(store, sink, producer, log).handle(log)
    assert sum(outboxes(store).values()) == len(on_kafka) and not sink.alerts
