"""Live updates: Redis's change and alert streams, read once per process, fanned out to
every open ``/api/stream`` as server-sent events.

One follower per stream, not one per browser: a TV wall of fifty screens costs Redis
two blocking XREADs. A subscriber whose queue fills up (a client that stopped reading)
is dropped; its browser reconnects by itself (``retry``) and reloads the board.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
import structlog

from scorers.access import Board, Principal, RepData, may_see
from sinks.exceptions import SinkError
from streams.views.reading import RedisScorecardReader

log = structlog.get_logger(__name__)

BLOCK_MS: Final = 1000
"""XREAD waits this long for an entry before it asks again (and notices a stop)."""
RETRY_S: Final = 1.0
"""Pause after Redis failed to answer, before following again."""
QUEUE_SIZE: Final = 1000
"""Events a subscriber may fall behind by before it is dropped."""
KEEPALIVE_S: Final = 15.0
"""An idle stream sends a comment this often, so proxies keep the connection open."""
CLIENT_RETRY_MS: Final = 2000
"""How soon a browser reconnects after the stream ended (EventSource's ``retry``)."""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: str
    """``scorecard`` (a rep's card was written) or ``alert``."""
    id: str
    """The Redis stream entry id."""
    data: dict[str, Any]

    def encode(self) -> bytes:
        """The event in the server-sent events wire format."""
        return b"event: %s\nid: %s\ndata: %s\n\n" % (
            self.kind.encode(),
            self.id.encode(),
            orjson.dumps(self.data),
        )


Read = Callable[[str], Awaitable[tuple[str, list[LiveEvent]]]]
"""Events after a stream id, and the id to read after next."""


class LiveFeed:
    def __init__(self, reader: RedisScorecardReader) -> None:
        self._reader = reader
        self._subscribers: set[asyncio.Queue[LiveEvent | None]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow("changes", self._reader.last_change_id, self._cards)),
            asyncio.create_task(self._follow("alerts", self._reader.last_alert_id, self._alerts)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._subscribers:
            _offer(queue, None)

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[LiveEvent | None]]:
        """A queue of every event from now on; ``None`` in it means the feed ended."""
        queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    async def events(self, keep: Callable[[LiveEvent], bool]) -> AsyncIterator[bytes]:
        """One subscriber's server-sent events (those ``keep`` keeps), keep-alive comments
        between them."""
        yield b"retry: %d\n\n" % CLIENT_RETRY_MS
        async with self.subscription() as queue:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event is None:
                    return
                if keep(event):
                    yield event.encode()

    def _publish(self, event: LiveEvent) -> None:
        for queue in list(self._subscribers):
            if queue.qsize() >= QUEUE_SIZE:
                self._subscribers.discard(queue)
                _offer(queue, None)
                log.warning("live.subscriber_dropped", behind=queue.qsize())
            else:
                queue.put_nowait(event)

    async def _follow(self, name: str, last_id: Callable[[], Awaitable[str]], read: Read) -> None:
        after: str | None = None
        while True:
            try:
                after = await last_id() if after is None else after
                after, events = await read(after)
            except SinkError as exc:
                log.warning("live.redis_unavailable", stream=name, error=str(exc))
                after = None  # the stream may have been reset meanwhile: start at its end
                await asyncio.sleep(RETRY_S)
                continue
            for event in events:
                self._publish(event)

    async def _cards(self, after: str) -> tuple[str, list[LiveEvent]]:
        entries = await self._reader.changes_after(after, block_ms=BLOCK_MS)
        events = []
        for entry in entries:  # an entry per batch; its field "cards" lists the cards
            try:
                cards = orjson.loads(entry.fields.get("cards") or "[]")
            except orjson.JSONDecodeError:
                log.warning("live.unreadable_entry", id=entry.id)
                continue
            # Team cards are left out: they follow their members, whose events come first.
            events += [
                LiveEvent("scorecard", f"{entry.id}.{n}", _card_change(card))
                for n, card in enumerate(cards)
                if isinstance(card, dict) and card.get("rep_id")
            ]
        return (entries[-1].id if entries else after), events

    async def _alerts(self, after: str) -> tuple[str, list[LiveEvent]]:
        last, alerts = await self._reader.alerts_after(after, block_ms=BLOCK_MS)
        events = [LiveEvent("alert", a.alert_id, a.model_dump(mode="json")) for a in alerts]
        return last, events


def visible_to(who: Principal) -> Callable[[LiveEvent], bool]:
    """The events ``who`` may see: a card's move is a board's (every role reads the
    boards); an alert is its rep's, as ``/api/alerts`` decides."""

    def keep(event: LiveEvent) -> bool:
        if event.kind != "alert":
            return may_see(who, Board(kpi=False))
        return may_see(who, RepData(str(event.data.get("rep_id")), event.data.get("team_id")))

    return keep


def _card_change(card: dict[str, Any]) -> dict[str, Any]:
    """A scorecard event: the fields of the change stream's card (``sinks.redis_keys``)."""
    return {
        key: card.get(key) for key in ("rep_id", "team_id", "window", "as_of", "overall", "delta")
    }


def _offer(queue: asyncio.Queue[LiveEvent | None], item: LiveEvent | None) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(item)
