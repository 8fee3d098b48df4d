"""The live feed's fan-out without Redis: every subscriber gets every event, and one that
stops reading is dropped rather than holding the server's memory."""

from __future__ import annotations

from typing import Any, cast

from streams.views.reading import RedisScorecardReader
from streams.web.live import QUEUE_SIZE, LiveEvent, LiveFeed


def event(n: int) -> LiveEvent:
    return LiveEvent("scorecard", f"{n}-0", {"rep_id": "ana", "overall": float(n)})


async def test_a_subscriber_that_stops_reading_is_dropped_with_an_end_marker() -> None:
    feed = LiveFeed(cast(RedisScorecardReader, cast(Any, None)))  # never started: no Redis
    async with feed.subscription() as slow, feed.subscription() as fast:
        for n in range(QUEUE_SIZE + 5):
            feed._publish(event(n))
            if n % 100 == 0:
                while not fast.empty():
                    fast.get_nowait()
        assert slow.qsize() == QUEUE_SIZE + 1
        drained = [slow.get_nowait() for _ in range(QUEUE_SIZE + 1)]
        assert drained[:3] == [event(0), event(1), event(2)] and drained[-1] is None
        feed._publish(event(-1))
        assert slow.empty() and fast.get_nowait() is not None


def test_events_are_encoded_as_server_sent_events() -> None:
    assert event(7).encode() == (
        b'event: scorecard\nid: 7-0\ndata: {"rep_id":"ana","overall":7.0}\n\n'
    )
