"""Write scorecards to Redis: one pipeline per batch, absolute writes, patient with outages.

The worker hands over a batch's changed cards, each with the card it replaces
(``scorers.effects.CardUpdate``), and ``write`` turns them into one pipeline. The
worker runs at least once, so a batch may be written again after a crash or a
retry: every write is absolute (MSET a rep's cards, ZADD their new scores, ZREM a
null score, SADD) and writing a batch twice leaves the same state. Only the change
stream is appended to; it notifies live pages, the cards are the truth.

Redis being away makes ``write`` wait and retry (``sinks.redis_calls``); errors
that waiting cannot fix raise ``RedisStoreError``. Key names are in ``sinks.redis_keys``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
import redis.asyncio
import structlog
from redis.crc import key_slot
from redis.typing import EncodableT, FieldT

from schemas.access import DirectoryUpdate
from schemas.outputs import CoachingAlert
from scorers.calendar import Day, to_date
from scorers.effects import CardKey, CardUpdate
from scorers.scoring import Scorecard
from sinks import redis_alerts, redis_directory
from sinks.redis_calls import RedisCalls
from sinks.redis_history import History
from sinks.redis_keys import ALERTS_MAXLEN, CHANGES_MAXLEN, RedisKeys, card_metrics

log = structlog.get_logger(__name__)

_SCAN_BATCH: Final = 500
MARKER_TTL_S: Final = 3600
"""The worker marker outlives any pause between checks (a worker stopped for an hour finds
it gone and rewrites its cards: harmless)."""


class RedisScorecardSink:
    """Writes rep and team scorecards, their leaderboards and the change stream."""

    def __init__(
        self, calls: RedisCalls, prefix: str, *, changes_maxlen: int = CHANGES_MAXLEN
    ) -> None:
        self.calls = calls
        self.keys = RedisKeys(prefix)
        self._changes_maxlen = changes_maxlen
        self._history = History(calls.client)
        self._marker = self.keys.worker_marker(uuid.uuid4().hex)
        self._marked = False

    async def aclose(self) -> None:
        await self.calls.aclose()

    async def write(self, updates: Sequence[CardUpdate], updated_at: str) -> int:
        """Write ``updates`` in one pipeline; returns how many cards were written.

        ``updated_at`` (ISO, UTC) is stamped on every card: one value per batch, so a
        retried attempt writes the very same bytes.
        """
        if not updates:
            return 0
        commands = _Commands(self._history)
        for update in updates:
            self._card(commands, update, updated_at)
        entry = orjson.dumps([_change_entry(u.card, u.change) for u in updates])
        commands.xadd(self.keys.changes, {"cards": entry}, self._changes_maxlen)
        if not self._marked:  # with the first cards, so losing either is losing both
            commands.set(self._marker, b"1")
        await self.calls.run(f"writing {len(updates)} scorecards", commands.execute)
        self._marked = True
        return len(updates)

    async def append_alerts(self, alerts: Sequence[CoachingAlert]) -> None:
        """Alerts as sent to Kafka, for the pages' capped stream."""

        async def append(client: redis.asyncio.Redis) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for alert in alerts:
                    fields = redis_alerts.entry(alert.model_dump_json().encode())
                    pipe.xadd(self.keys.alerts, fields, maxlen=ALERTS_MAXLEN, approximate=True)
                await pipe.execute()

        if alerts:
            await self.calls.run(f"appending {len(alerts)} alerts", append)

    async def write_directory(self, updates: Mapping[str, DirectoryUpdate]) -> None:
        """The people directory's entries (``sinks.redis_directory``)."""
        await redis_directory.write_entries(self.calls, self.keys, updates)

    async def lost_data(self) -> bool:
        """Whether Redis lost what this sink wrote since the last call: the marker written
        with the first cards is gone (Redis restarted without persistence, failed over to
        an empty replica, or was flushed). Sets the marker again, with its time to live."""
        if not self._marked:
            return False

        async def check(client: redis.asyncio.Redis) -> bool:
            async with client.pipeline(transaction=False) as pipe:
                pipe.exists(self._marker)
                pipe.set(self._marker, b"1", ex=MARKER_TTL_S)
                existed, _ = await pipe.execute()
            return bool(existed)

        return not await self.calls.run("checking the worker's marker", check)

    async def read_cards(self, keys: Sequence[CardKey]) -> dict[CardKey, Scorecard]:
        """The stored rep cards of ``keys`` (rep, window); missing or unreadable ones are left
        out (they are rewritten in full)."""
        if not keys:
            return {}

        async def read(client: redis.asyncio.Redis) -> list[Any]:
            # One pipeline of GETs, not MGET: the reps' cards live in different slots.
            async with client.pipeline(transaction=False) as pipe:
                for rep, window in keys:
                    pipe.get(self.keys.rep_card(rep, window))
                return list(await pipe.execute())

        raws = await self.calls.run(f"reading {len(keys)} scorecards", read)
        out: dict[CardKey, Scorecard] = {}
        for key, raw in zip(keys, raws, strict=True):
            if raw is not None:
                try:
                    out[key] = Scorecard.from_dict(orjson.loads(raw))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    # Overwriting it is the repair; refusing to go on would block every batch.
                    log.warning(
                        "redis.unreadable_card", rep_id=key[0], window=key[1], error=str(exc)
                    )
        return out

    async def delete_all(self, prefix: str | None = None) -> int:
        """Delete every key under ``prefix`` (default: this sink's) with SCAN + UNLINK.

        For ``reset``: UNLINK frees memory in the background, SCAN never blocks the
        server. Returns the number of keys deleted.
        """
        keys = self.keys if prefix is None else RedisKeys(prefix)

        async def delete(client: redis.asyncio.Redis) -> int:
            deleted = 0
            batch: list[Any] = []
            async for key in client.scan_iter(match=keys.match_all, count=_SCAN_BATCH):
                batch.append(key)
                if len(batch) >= _SCAN_BATCH:
                    deleted += await client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await client.unlink(*batch)
            return deleted

        deleted = await self.calls.run(f"deleting keys {keys.match_all!r}", delete)
        log.info("redis.deleted_all", match=keys.match_all, keys=deleted)
        return deleted

    def _card(self, commands: _Commands, update: CardUpdate, updated_at: str) -> None:
        card, before = update.card, update.previous
        body = {**update.body, "updated_at": updated_at, "change": update.change}
        metrics = _metrics(card)
        # A KPI or perspective the card replaced had and this one has not (a new definition
        # version dropped it) leaves its board.
        had = {} if before is None else _metrics(before)
        dropped = had.keys() - metrics.keys()
        if card.rep_id is None:
            assert card.team_id is not None, "a team card names its team"
            commands.set(self.keys.team_card(card.team_id, card.window), orjson.dumps(body))
            commands.member(self.keys.teams, card.team_id)
            commands.member(self.keys.windows, card.window)
            for metric, score in [*metrics.items(), *((m, None) for m in dropped)]:
                commands.score(
                    self.keys.teams_leaderboard(card.window, metric), card.team_id, score
                )
            return
        rep, window, team = card.rep_id, card.window, card.team_id
        commands.set(self.keys.rep_card(rep, window), orjson.dumps(body))
        if before is not None and before.as_of < card.as_of:
            # The card it replaces is the last of its day: that day goes to the history.
            commands.history(self.keys.rep_history(rep, window), before, card.as_of)
        # Most batches move a few KPIs: only the scores that changed since the card it
        # replaces are sent (all of them when there is none, or the team changed).
        known = had if before is not None and before.team_id == team else {}
        if not known:
            commands.member(self.keys.reps, rep)
            commands.member(self.keys.windows, window)
            if team is not None:
                commands.member(self.keys.teams, team)
                commands.member(self.keys.team_reps(team), rep)
        for metric, score in metrics.items():
            if metric not in known or known[metric] != score:
                commands.score(self.keys.leaderboard(window, metric), rep, score)
        for metric in dropped:
            commands.score(self.keys.leaderboard(window, metric), rep, None)
        if before is not None and before.team_id is not None and before.team_id != team:
            commands.leave(self.keys.team_reps(before.team_id), rep)


class _Commands:
    """A batch's writes, grouped per key: one ZADD, ZREM or SADD per key for the whole batch
    instead of one per card and metric (redis-py's cost is per command, in Python)."""

    def __init__(self, history: History) -> None:
        self._history = history
        self._days: dict[str, tuple[Scorecard, Day]] = {}
        self._sets: dict[str, bytes] = {}
        self._streams: list[tuple[str, dict[FieldT, EncodableT], int]] = []
        self._scores: dict[str, dict[str, float]] = {}
        self._removals: dict[str, set[str]] = {}
        self._members: dict[str, set[str]] = {}
        self._leaving: dict[str, set[str]] = {}

    def set(self, key: str, value: bytes) -> None:
        self._sets[key] = value

    def xadd(self, key: str, fields: dict[FieldT, EncodableT], maxlen: int) -> None:
        self._streams.append((key, fields, maxlen))

    def score(self, board: str, member: str, score: float | None) -> None:
        """Set ``member``'s score on ``board``; None takes it off the board."""
        if score is None:
            self._scores.get(board, {}).pop(member, None)
            self._removals.setdefault(board, set()).add(member)
        else:
            self._removals.get(board, set()).discard(member)
            self._scores.setdefault(board, {})[member] = score

    def history(self, key: str, finished: Scorecard, today: Day) -> None:
        self._days[key] = (finished, today)

    def member(self, key: str, member: str) -> None:
        self._leaving.get(key, set()).discard(member)
        self._members.setdefault(key, set()).add(member)

    def leave(self, key: str, member: str) -> None:
        self._members.get(key, set()).discard(member)
        self._leaving.setdefault(key, set()).add(member)

    async def execute(self, client: redis.asyncio.Redis) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for values in _by_slot(self._sets).values():
                pipe.mset(values)  # a rep's windows share its slot: one MSET, not a SET each
            for board, scores in self._scores.items():
                if scores:
                    pipe.zadd(board, scores)
            for board, removed in self._removals.items():
                if removed:
                    pipe.zrem(board, *removed)
            for key, members in self._members.items():
                if members:
                    pipe.sadd(key, *members)
            for key, members in self._leaving.items():
                if members:
                    pipe.srem(key, *members)
            for key, fields, maxlen in self._streams:
                pipe.xadd(key, fields, maxlen=maxlen, approximate=True)
            for key, (finished, today) in self._days.items():
                self._history.queue(pipe, key, finished, today)
            await pipe.execute()


def _by_slot(values: dict[str, bytes]) -> dict[int, dict[str, bytes]]:
    """``values`` grouped by their keys' Redis Cluster slot (hash tags as ``sinks.redis_keys``
    spells them), so one multi-key command may write each group."""
    groups: dict[int, dict[str, bytes]] = {}
    for key, value in values.items():
        groups.setdefault(key_slot(key.encode()), {})[key] = value
    return groups


def _metrics(card: Scorecard) -> dict[str, float | None]:
    """``card_metrics``, kept with the card once published: the card it replaces asks too."""
    rendered = card.rendered
    if rendered is None:
        return card_metrics(card)
    if rendered.metrics is None:
        rendered.metrics = card_metrics(card)
    return rendered.metrics


def _change_entry(card: Scorecard, moved: Mapping[str, object]) -> dict[str, object]:
    """One card in the change stream's entry (see ``sinks.redis_keys``)."""
    who: dict[str, object] = {} if card.rep_id is None else {"rep_id": card.rep_id}
    return {
        **who,
        "team_id": card.team_id,
        "window": card.window,
        "as_of": to_date(card.as_of).isoformat(),
        "overall": card.overall,
        "delta": moved["overall"],
    }
