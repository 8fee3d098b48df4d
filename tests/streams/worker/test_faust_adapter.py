"""The contract with faust's internals: every private name ``faust_adapter`` relies on, used
the way the worker uses it, on the installed faust. An upgrade that renames or reshapes one
fails here, before a worker loses messages or state (pyproject.toml bounds faust to the
versions this passed on)."""

from __future__ import annotations

import asyncio
import gc
import inspect
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka
from faust.types import TP
from faust.worker import Worker

from streams.worker import faust_adapter
from streams.worker.state_table import TABLE_NAME, declare_table


@pytest.fixture(name="app")
def fixture_app(tmp_path: Path) -> Iterator[faust.App]:
    # Never started: nothing here reaches a broker.
    app = faust_adapter.App("contract", broker="kafka://127.0.0.1:1", store="rocksdb://",
                            datadir=str(tmp_path), key_serializer="raw",
                            value_serializer="raw")  # fmt: skip
    yield app
    for table in app.tables.values():
        table.data.reset_state()


def test_the_app_consumes_with_the_rewinding_consumer(app: faust.App) -> None:
    assert isinstance(app.transport, faust_adapter.RewindingTransport)
    assert isinstance(app.consumer, faust_adapter.RewindingConsumer)


def test_the_app_keeps_no_monitor_statistics_per_message(app: faust.App) -> None:
    list(app.on_init_dependencies())
    assert list(app.sensors) == []


async def test_a_check_runs_with_the_apps_dependencies_from_its_start(app: faust.App) -> None:
    calls: list[float] = []

    async def check() -> None:
        calls.append(time.monotonic())

    assert isinstance(app, faust_adapter.App)
    app.every(0.01, check)
    [every] = [s for s in app.on_init_dependencies() if isinstance(s, faust_adapter.Every)]
    await every.start()
    await asyncio.sleep(0.2)
    await every.stop()
    ran = len(calls)
    await asyncio.sleep(0.05)
    assert ran >= 3 and len(calls) == ran, calls


def test_the_overridden_methods_exist_on_fausts_classes_with_our_signatures() -> None:
    def parameters(method: Any) -> list[str]:
        return list(inspect.signature(method).parameters)

    seek = aiokafka.Consumer.perform_seek
    assert inspect.iscoroutinefunction(seek) and parameters(seek) == ["self"]
    assert parameters(faust.App._new_transport) == ["self"]
    assert parameters(faust.App.on_init_dependencies) == ["self"]
    fetch_loop = inspect.getsource(faust.transport.consumer.Consumer._drain_messages)
    assert "self.wait_first(" in fetch_loop
    assert "callback(message), self.suspend_flow.wait()" in fetch_loop
    assert parameters(Worker._schedule_shutdown) == ["self", "signal"]
    assert faust_adapter.RewindingTransport.Consumer is faust_adapter.RewindingConsumer
    getmany = aiokafka.Consumer._getmany
    assert parameters(getmany) == ["self", "active_partitions", "timeout"]
    create = aiokafka.AIOKafkaConsumerThread._create_worker_consumer
    assert parameters(create) == ["self", "transport"]
    assert parameters(aiokafka.Consumer._new_consumer_thread) == ["self"]


async def test_the_consumer_reads_committed_records_only(app: faust.App) -> None:
    """faust asks for read_committed only under its own transactions: the worker's consumer is
    made with it all the same, and aiokafka's fetcher takes it from there at start."""
    thread = _consumer(app)._new_consumer_thread()
    assert isinstance(thread, faust_adapter.CommittedReadingThread)
    kafka = thread._create_worker_consumer(app.transport)
    assert kafka._isolation_level == "read_committed"
    assert "isolation_level=self._isolation_level" in inspect.getsource(type(kafka).start)


async def test_each_fetch_notes_the_position_and_where_its_records_end(app: faust.App) -> None:
    """After a fetch, ``fetched`` holds aiokafka's position (past markers it passed over) and
    one past the last record returned; a partition whose fetch returned none keeps where
    the records ended before; a seek forgets both."""
    consumer = _consumer(app)
    calls, deals = TP("crm.calls", 0), TP("crm.deals", 1)

    class State:
        has_valid_position = True

        def __init__(self, position: int) -> None:
            self.position = position

    class Record:
        def __init__(self, offset: int) -> None:
            self.offset = offset

    positions = {calls: State(11), deals: State(4)}
    assignment = type("Assignment", (), {"state_value": staticmethod(positions.get),
                                          "tps": set(positions)})()  # fmt: skip
    kafka = type("Kafka", (), {})()
    kafka._subscription = type("Sub", (), {"subscription": type("S", (), {})()})()
    kafka._subscription.subscription.assignment = assignment
    thread: Any = type("Thread", (), {})()
    thread._consumer = kafka
    fetches = [{calls: [Record(8), Record(9)]}, {}]

    async def getmany(active: Any, timeout: float) -> Any:
        return fetches.pop(0)

    thread.getmany = getmany
    consumer._thread = thread
    records = await consumer._getmany({calls, deals}, 1.0)
    assert [r.offset for r in records[calls]] == [8, 9], "handed on as fetched"
    assert consumer.fetched(calls) == (11, 10)
    assert consumer.fetched(deals) == (4, 0)
    positions[calls].position = 12  # a fetch that passed over a marker only
    await consumer._getmany(None, 1.0)
    assert consumer.fetched(calls) == (12, 10)


async def test_the_seek_after_a_rebalance_rewinds_what_the_group_never_committed(
    app: faust.App,
) -> None:
    """faust's ``perform_seek`` asks for the committed offsets and records them; ours then
    sends a partition without one back to offset 0, and leaves the committed one alone."""
    committed, never = TP("crm.calls", 3), TP("crm.nps", 1)
    consumer: Any = app.consumer
    seeks: list[tuple[TP, int]] = []

    async def seek_to_committed() -> dict[TP, int]:
        return {committed: 41}

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    consumer.seek_to_committed = seek_to_committed
    consumer.assignment = lambda: {committed, never}
    consumer.seek = seek
    assert faust_adapter.committed_offset(consumer, committed) is None
    await consumer.perform_seek()
    assert faust_adapter.committed_offset(consumer, committed) == 41
    assert faust_adapter.committed_offset(consumer, never) is None
    assert seeks == [(never, 0)]
    assert consumer.flow_active is False, "stopped until faust has cleared the buffers"


def test_a_table_partition_is_written_and_read_whole_beside_fausts_offset(app: faust.App) -> None:
    table = declare_table(app, TABLE_NAME, bytes, 4)
    changelog = TP(table.changelog_topic.get_topic_name(), 2)
    assert faust_adapter.open_partition_db(table, 2) is None, "not opened before use"
    table.data.set_persisted_offset(changelog, 7)  # faust's own write opens the partition
    db = faust_adapter.open_partition_db(table, 2)
    assert db is not None
    db.put(b"rep-1|day|20500", b"{}")
    db.put(b"rep-2|profile", b"[]")
    items = dict(faust_adapter.partition_items(table, 2))
    assert items == {b"rep-1|day|20500": b"{}", b"rep-2|profile": b"[]"}, "no offset record"
    assert table.data.persisted_offset(changelog) == 7, "faust still reads its own record"
    assert dict(faust_adapter.partition_items(table, 1)) == {}


def test_an_app_not_started_is_not_ready(app: faust.App) -> None:
    assert app.rebalancing is False
    assert faust_adapter.ready(app) is False
    app.tables.recovery.completed.set()  # type: ignore[attr-defined]
    assert faust_adapter.ready(app) is True


def test_a_recovery_names_the_changelog_partitions_left_and_what_they_wait_on(
    app: faust.App,
) -> None:
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    assert faust_adapter.recovery_report(app) == {
        "in_recovery": False, "flow_active": True, "flow_control_active": False,
        "buffered": [], "left": {}, "consumer_thread_waiting": [],
    }  # fmt: skip
    behind, done = TP("contract-state-changelog", 2), TP("contract-state-changelog", 3)
    recovery.active_highwaters.update({behind: 10, done: 4})
    recovery.active_offsets.update({behind: 3, done: 4})
    assert faust_adapter.recovery_left(app) == {}  # no recovery under way
    recovery.in_recovery = True
    assert faust_adapter.recovery_left(app) == {"contract-state-changelog[2]": 3}
    app.consumer.pause_partitions({behind})
    app.consumer.stop_flow()
    app.consumer._read_offset[behind] = 7  # type: ignore[attr-defined]
    report = faust_adapter.recovery_report(app)
    assert report["in_recovery"] is True and report["flow_active"] is False
    assert report["left"] == {
        "contract-state-changelog[2]": {
            "read_to": 3, "highwater": 10, "position": None, "fetched_unread": False,
            "read_offset": 7, "paused": True,
        }
    }  # fmt: skip


async def test_a_message_the_callback_takes_at_once_costs_the_fetch_loop_no_task(
    app: faust.App,
) -> None:
    """faust's fetch loop calls ``wait_first(callback(message), suspend_flow.wait())`` per
    message: a callback that returns without waiting is run here, with no task, and the
    unused wait is closed rather than left never awaited."""
    tasks: list[object] = []
    loop = asyncio.get_running_loop()

    def counted(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        tasks.append(coro)
        return asyncio.Task(coro, loop=loop, **kw)

    loop.set_task_factory(counted)
    try:
        suspended = asyncio.Event()
        handled: list[int] = []

        async def callback(message: int) -> int:
            handled.append(message)
            return message * 2

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = await _consumer(app).wait_first(callback(21), suspended.wait())
            gc.collect()
    finally:
        loop.set_task_factory(None)
    assert (handled, result.results, result.stopped) == ([21], [42], False)
    assert tasks == []
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


async def test_a_callback_that_waits_is_finished_or_cut_short_as_faust_does(
    app: faust.App,
) -> None:
    """A callback that waits (the producer's buffer full) finishes with its own result, or,
    if the flow is suspended first (a rebalance), is cancelled where it waits."""
    loop = asyncio.get_running_loop()
    suspended = asyncio.Event()
    gate: asyncio.Future[int] = loop.create_future()

    async def callback() -> int:
        return 2 * await gate

    waiting = asyncio.ensure_future(_consumer(app).wait_first(callback(), suspended.wait()))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gate.set_result(21)
    assert (await waiting).results == [42]

    cancelled: list[str] = []
    gate = loop.create_future()

    async def stuck() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            cancelled.append("where it waited")
            raise

    suspension = suspended.wait()
    waiting = asyncio.ensure_future(_consumer(app).wait_first(stuck(), suspension))
    await asyncio.sleep(0.01)
    suspended.set()
    result = await waiting
    assert (result.done, result.stopped) == ([suspension], False)
    await asyncio.sleep(0.01)
    assert cancelled == ["where it waited"]


def _consumer(app: faust.App) -> faust_adapter.RewindingConsumer:
    consumer = app.consumer
    assert isinstance(consumer, faust_adapter.RewindingConsumer)
    return consumer


async def test_a_callback_that_fails_at_once_raises_in_the_fetch_loop(app: faust.App) -> None:
    """As faust's own ``wait_first`` would: the callback's error, the unused wait closed."""

    async def callback() -> None:
        raise ValueError("undecodable")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="undecodable"):
            await _consumer(app).wait_first(callback(), asyncio.Event().wait())
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_a_failed_batch_ends_the_process_at_once_non_zero_and_says_why() -> None:
    """As a kill -9 would, even with the event loop blocked: faust's own stop would wait for
    the failed batch's acks."""
    script = """
import asyncio, time
from streams.worker import faust_adapter

async def main():
    faust_adapter.exit_failed(RuntimeError("refused"))
    time.sleep(60)

asyncio.run(main())
"""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=50, check=False)  # fmt: skip
    assert done.returncode == faust_adapter.EXIT_FAILED != 0, done.stderr
    assert time.monotonic() - started < 30
    assert "worker_failed" in done.stdout + done.stderr
    assert "refused" in done.stdout + done.stderr
