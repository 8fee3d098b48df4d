"""Write scorecards to Redis: batched, absolute, idempotent, and patient with outages.

The worker ``add``s every scorecard it computes and ``flush``es when it wants them
visible. Faust runs at least once, so a batch may be written again after a crash
or a retry: every write is therefore absolute (SET the card, ZADD its new score,
ZREM a null score, SADD, the day's entry of a rep's history) and writing a batch
twice leaves the same state. Only the change stream is appended to; it notifies
live pages, the cards are the truth.

While Redis is down, ``flush`` waits and retries with capped exponential backoff
instead of failing: the worker's state already moved on, so a dropped card would
stay stale in Redis until the rep's next event. Errors that waiting cannot fix
(wrong type, out of memory, bad credentials) raise ``RedisStoreError``.

Key names are in ``sinks.redis_keys``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson
import redis.asyncio
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError
from redis.typing import EncodableT, FieldT

from scorers.calendar import to_date
from scorers.changes import KpiChange, ScorecardChange, change
from scorers.scoring import Scorecard
from sinks.exceptions import RedisStoreError, SinkError
from sinks.redis_history import queue_history
from sinks.redis_keys import (
    CHANGES_MAXLEN,
    OVERALL,
    UNCAPPED,
    RedisKeys,
    card_metrics,
    kpi_metric,
    perspective_metric,
)

log = structlog.get_logger(__name__)

Kind = Literal["rep", "team"]
Subject = tuple[Kind, str, str]
"""(kind, rep or team id, window): one card key; the unit of dedupe."""

_SCAN_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff between flush attempts while Redis is unreachable; attempts never run out."""

    first_delay_s: float = 0.1
    max_delay_s: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** min(attempt - 1, 30))


@dataclass(frozen=True, slots=True)
class _Pending:
    card: Scorecard
    change: ScorecardChange | None
    """Since the card last written for this subject, not the one it replaced in the buffer."""


@dataclass(frozen=True, slots=True)
class _Written:
    """What this process last wrote for a subject: enough to skip a rewrite and spot a team move."""

    digest: bytes
    team_id: str | None
    metrics: tuple[str, ...]
    values: dict[str, float | None] | None = None
    """The leaderboard scores written, when this process wrote them (None: read back)."""


class RedisScorecardSink:
    """Buffers the latest scorecard per (rep or team, window) and writes them in one pipeline.

    One instance per worker process, on one event loop. Concurrent ``flush`` calls
    take turns (a lock); ``add`` during a flush buffers for the next one.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        prefix: str,
        *,
        retry: RetryPolicy | None = None,
        changes_maxlen: int = CHANGES_MAXLEN,
        owns_client: bool = False,
    ) -> None:
        self.keys = RedisKeys(prefix)
        self._client = client
        self._retry = retry or RetryPolicy()
        self._changes_maxlen = changes_maxlen
        self._owns_client = owns_client
        self._buffer: dict[Subject, _Pending] = {}
        self._written: dict[Subject, _Written] = {}
        self._lock = asyncio.Lock()
        # A logger of its own, bound now: the prefix tells two sinks in one process apart.
        self._log = structlog.get_logger(__name__).bind(prefix=prefix)

    @classmethod
    def from_url(
        cls, url: str, prefix: str, *, retry: RetryPolicy | None = None
    ) -> RedisScorecardSink:
        """A sink with its own client; ``aclose`` closes it."""
        # The client's own retries are off: the sink's loop is the one place that
        # retries, logs each attempt, and never gives up.
        client = redis.asyncio.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=5, socket_timeout=10
        )
        return cls(client, prefix, retry=retry, owns_client=True)

    async def aclose(self) -> None:
        """Close the client if the sink made it; buffered cards are not flushed."""
        if self._owns_client:
            await self._client.aclose()

    @property
    def pending(self) -> int:
        """Cards waiting for the next flush."""
        return len(self._buffer)

    def add(self, card: Scorecard, card_change: ScorecardChange | None) -> None:
        """Buffer ``card``; a later card of the same subject and window replaces it.

        ``card_change`` is the move since the previous card of the subject (None:
        unknown). When a buffered card is replaced, the stored change still runs
        from the card last *written*, so a live page never misses a step.
        """
        key = _subject(card)
        older = self._buffer.get(key)
        self._buffer[key] = _Pending(card, card_change) if older is None else _replace(older, card)

    async def flush(self) -> int:
        """Write every buffered card in one pipeline; returns how many were written.

        Waits (with backoff) through connection errors and never drops a card;
        cards identical to the last ones this sink wrote are skipped.
        """
        async with self._lock:
            if not self._buffer:
                return 0
            # Swap the buffer out so cards added during the write wait for the next
            # flush; put back (merged) only if the write failed.
            batch, self._buffer = self._buffer, {}
            written = False
            try:
                count = await self._write_with_retry(batch)
                written = True
                return count
            finally:
                if not written:
                    self._restore(batch)

    async def delete_all(self, prefix: str | None = None) -> int:
        """Delete every key under ``prefix`` (default: this sink's) with SCAN + UNLINK.

        For ``reset``: UNLINK frees memory in the background, SCAN never blocks
        the server. Forgets what was written, so the next cards are written again.
        Returns the number of keys deleted.
        """
        keys = self.keys if prefix is None else RedisKeys(prefix)
        deleted = 0
        batch: list[Any] = []
        try:
            async for key in self._client.scan_iter(match=keys.match_all, count=_SCAN_BATCH):
                batch.append(key)
                if len(batch) >= _SCAN_BATCH:
                    deleted += await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await self._client.unlink(*batch)
        except RedisError as exc:
            raise RedisStoreError(f"deleting keys {keys.match_all!r} failed: {exc}") from exc
        if keys.prefix == self.keys.prefix:
            self._written.clear()
        self._log.info("redis.deleted_all", match=keys.match_all, keys=deleted)
        return deleted

    async def _write_with_retry(self, batch: dict[Subject, _Pending]) -> int:
        # One timestamp per flush: a retried attempt writes the very same bytes.
        updated_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        flush_log = self._log.bind(cards=len(batch))
        attempt = 0
        while True:
            attempt += 1
            try:
                count = await self._write(batch, updated_at)
            except (AuthenticationError, AuthorizationError) as exc:
                # Subclasses of ConnectionError, but waiting will not fix credentials.
                raise RedisStoreError(f"Redis rejected our credentials: {exc}") from exc
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                delay = self._retry.delay(attempt)
                flush_log.warning(
                    "redis.flush_retry", attempt=attempt, retry_in_s=delay, error=str(exc)
                )
                await asyncio.sleep(delay)
                continue
            except RedisError as exc:
                raise RedisStoreError(
                    f"Redis refused a batch of {len(batch)} scorecards: {exc}"
                ) from exc
            if attempt > 1:
                flush_log.info("redis.flush_recovered", attempts=attempt, written=count)
            return count

    async def _write(self, batch: dict[Subject, _Pending], updated_at: str) -> int:
        previous = await self._previous_cards(batch)
        done: dict[Subject, _Written] = {}
        boards = _BoardWrites()
        async with self._client.pipeline(transaction=False) as pipe:
            for key, pending in batch.items():
                card = pending.card
                body = card.to_dict()
                digest = hashlib.blake2b(orjson.dumps(body), digest_size=16).digest()
                before = previous.get(key)
                if before is not None and before.digest == digest:
                    continue  # a redelivery: same card, nothing to tell anyone
                body["updated_at"] = updated_at
                body["change"] = None if pending.change is None else _change_dict(pending.change)
                metrics = card_metrics(card)
                if key[0] == "rep":
                    pipe.set(self.keys.rep_card(key[1], card.window), orjson.dumps(body))
                    self._rep_boards(boards, card, metrics, before)
                    queue_history(pipe, self.keys.rep_history(key[1], card.window), card)
                else:
                    pipe.set(self.keys.team_card(key[1], card.window), orjson.dumps(body))
                    self._team_boards(boards, card, metrics)
                pipe.xadd(
                    self.keys.changes,
                    _change_entry(card, pending.change),
                    maxlen=self._changes_maxlen,
                    approximate=True,
                )
                done[key] = _Written(digest, card.team_id, tuple(metrics), metrics)
            if done:
                boards.queue(pipe)
                await pipe.execute()
        self._written.update(done)
        return len(done)

    def _rep_boards(
        self,
        boards: _BoardWrites,
        card: Scorecard,
        metrics: dict[str, float | None],
        before: _Written | None,
    ) -> None:
        assert card.rep_id is not None
        rep, window, team = card.rep_id, card.window, card.team_id
        # Most events move a few KPIs: only the scores that changed since this process
        # last wrote them are sent.
        known = before.values if before is not None and before.team_id == team else None
        if known is None:
            boards.member(self.keys.reps, rep)
            boards.member(self.keys.windows, window)
            if team is not None:
                boards.member(self.keys.teams, team)
        for metric, score in metrics.items():
            if known is not None and metric in known and known[metric] == score:
                continue
            boards.score(self.keys.leaderboard(window, metric), rep, score)
            if team is not None:
                boards.score(self.keys.team_leaderboard(window, team, metric), rep, score)
        if before is not None and before.team_id is not None and before.team_id != team:
            # A move: the rep leaves every board of its old team, whatever metrics
            # the old card had.
            for metric in dict.fromkeys((*before.metrics, *metrics)):
                boards.score(self.keys.team_leaderboard(window, before.team_id, metric), rep, None)

    def _team_boards(
        self, boards: _BoardWrites, card: Scorecard, metrics: dict[str, float | None]
    ) -> None:
        assert card.team_id is not None
        boards.member(self.keys.teams, card.team_id)
        boards.member(self.keys.windows, card.window)
        for metric, score in metrics.items():
            boards.score(self.keys.teams_leaderboard(card.window, metric), card.team_id, score)

    async def _previous_cards(self, batch: dict[Subject, _Pending]) -> dict[Subject, _Written]:
        """What each subject's current Redis card is: from memory, else read (cold start).

        One batched read, only for reps this process has not written yet: their
        old card names the team whose leaderboards they may have to leave.
        """
        known = {key: self._written[key] for key in batch if key in self._written}
        unknown = [key for key in batch if key not in known and key[0] == "rep"]
        if not unknown:
            return known
        async with self._client.pipeline(transaction=False) as pipe:
            for _, rep, window in unknown:
                pipe.get(self.keys.rep_card(rep, window))
            raws: list[Any] = await pipe.execute()
        for key, raw in zip(unknown, raws, strict=True):
            if raw is not None:
                old = _parse_old_card(raw, key)
                if old is not None:
                    known[key] = old
        return known

    def _restore(self, batch: dict[Subject, _Pending]) -> None:
        """Put a failed batch back; cards added meanwhile are newer and stay on top."""
        newer = self._buffer
        self._buffer = dict(batch)
        for key, pending in newer.items():
            older = self._buffer.get(key)
            self._buffer[key] = pending if older is None else _replace(older, pending.card)


class _BoardWrites:
    """A batch's leaderboard and set writes, grouped per key: one ZADD, ZREM or SADD per
    key for the whole batch instead of one per card and metric (redis-py's cost is per
    command, in Python)."""

    def __init__(self) -> None:
        self._scores: dict[str, dict[str, float]] = {}
        self._removals: dict[str, set[str]] = {}
        self._members: dict[str, set[str]] = {}

    def score(self, board: str, member: str, score: float | None) -> None:
        """Set ``member``'s score on ``board``; None takes it off the board."""
        if score is None:
            self._scores.get(board, {}).pop(member, None)
            self._removals.setdefault(board, set()).add(member)
        else:
            self._removals.get(board, set()).discard(member)
            self._scores.setdefault(board, {})[member] = score

    def member(self, key: str, member: str) -> None:
        self._members.setdefault(key, set()).add(member)

    def queue(self, pipe: redis.asyncio.client.Pipeline) -> None:
        for board, scores in self._scores.items():
            if scores:
                pipe.zadd(board, scores)
        for board, removed in self._removals.items():
            if removed:
                pipe.zrem(board, *removed)
        for key, members in self._members.items():
            pipe.sadd(key, *members)


def _subject(card: Scorecard) -> Subject:
    if card.rep_id is not None:
        return ("rep", card.rep_id, card.window)
    if card.team_id is None:
        raise SinkError(f"a {card.window} scorecard has neither rep_id nor team_id")
    return ("team", card.team_id, card.window)


def _replace(older: _Pending, card: Scorecard) -> _Pending:
    """``card`` in place of ``older``, its change running from the card before ``older``."""
    if older.change is None:
        return _Pending(card, None)
    return _Pending(card, _compose(older.change, change(older.card, card)))


def _compose(first: ScorecardChange, then: ScorecardChange) -> ScorecardChange:
    """Two successive changes as one (a null in either step leaves that score unknown)."""
    return ScorecardChange(
        overall=_add(first.overall, then.overall),
        perspectives={p: _add(first.perspectives.get(p), d) for p, d in then.perspectives.items()},
        kpis={
            n: KpiChange(
                _add(first.kpis[n].value, k.value) if n in first.kpis else None,
                _add(first.kpis[n].attainment, k.attainment) if n in first.kpis else None,
                (first.kpis[n].contribution if n in first.kpis else 0.0) + k.contribution,
            )
            for n, k in then.kpis.items()
        },
    )


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _change_dict(moved: ScorecardChange) -> dict[str, object]:
    return {
        "overall": moved.overall,
        "perspectives": moved.perspectives,
        "kpis": {
            name: {"value": k.value, "attainment": k.attainment, "contribution": k.contribution}
            for name, k in moved.kpis.items()
        },
    }


def _change_entry(card: Scorecard, moved: ScorecardChange | None) -> dict[FieldT, EncodableT]:
    """The change stream's fields; stream values are strings, so a null is ``""``."""
    who: dict[FieldT, EncodableT] = {} if card.rep_id is None else {"rep_id": card.rep_id}
    return {
        **who,
        "team_id": card.team_id or "",
        "window": card.window,
        "as_of": to_date(card.as_of).isoformat(),
        "overall": _text(card.overall),
        "delta": _text(None if moved is None else moved.overall),
    }


def _text(score: float | None) -> str:
    return "" if score is None else repr(score)


def _parse_old_card(raw: bytes | str, key: Subject) -> _Written | None:
    """The team and metrics of a card another process wrote; None if it is unreadable."""
    try:
        body = orjson.loads(raw)
        team = body.get("team_id")
        metrics = [OVERALL, UNCAPPED]
        metrics += [perspective_metric(p) for p in body.get("perspectives") or {}]
        metrics += [kpi_metric(k) for k in body.get("kpis") or {}]
    except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
        # Overwriting it is the repair; refusing to write would block every flush.
        log.warning("redis.unreadable_card", subject=key, error=str(exc))
        return None
    # An empty digest never equals a real one: a card read back is always rewritten,
    # since its updated_at/change may be stale.
    return _Written(b"", team if isinstance(team, str) else None, tuple(metrics))
