"""Read what ``RedisScorecardSink`` wrote: a rep's cards, leaderboards, the change stream.

It sits beside the writer because both follow one key layout (``sinks.redis_keys``);
callers (the CLI, a web page) never spell a key. Redis being down raises
``RedisUnavailableError``, so a caller can tell "start Redis" from "no such rep".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import orjson
import redis.asyncio
import structlog
from redis.exceptions import RedisError

from schemas.scorecard_definition import KpiName, Perspective
from sinks.exceptions import RedisStoreError, RedisUnavailableError
from sinks.redis_keys import OVERALL, RedisKeys, kpi_metric, perspective_metric

log = structlog.get_logger(__name__)

RANK_BY: Final[tuple[str, ...]] = (
    OVERALL,
    *(p.value for p in Perspective),
    *(kpi_metric(k.value) for k in KpiName),
)
"""Every valid ``by`` of ``leaderboard``: overall, a perspective, or ``kpi:NAME``."""

SCORECARD_FIELDS: Final = (
    "rep_id",
    "team_id",
    "window",
    "as_of",
    "overall",
    "overall_uncapped",
    "perspectives",
    "kpis",
)
"""A stored card's keys that make up the published shape (``Scorecard.to_dict()``)."""

_ROLLING = re.compile(r"^([0-9]+)d$")
_CALENDAR_DAYS: Final = {"week": 7, "month": 31, "quarter": 92}


def metric_for(by: str) -> str:
    """The leaderboard METRIC for a ``by`` value; ValueError names the valid ones."""
    if by not in RANK_BY:
        raise ValueError(f"cannot rank by {by!r}; use one of: {', '.join(RANK_BY)}")
    return by if by == OVERALL or by.startswith("kpi:") else perspective_metric(by)


def window_order(window: str) -> tuple[int, int]:
    """Shortest window first, a rolling one before a calendar one of the same length."""
    rolling = _ROLLING.match(window)
    if rolling:
        return (int(rolling.group(1)), 0)
    return (_CALENDAR_DAYS.get(window, 10_000), 1)


def public_card(card: dict[str, Any]) -> dict[str, Any]:
    """A stored card without ``updated_at``/``change``: exactly the replay's JSON shape."""
    return {k: card[k] for k in SCORECARD_FIELDS if k in card}


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    rank: int
    """1-based position; ties get consecutive ranks in rep_id order."""
    rep_id: str
    team_id: str | None
    score: float
    """The value ranked by (a 0..100 score, or the KPI's own value)."""
    overall: float | None
    perspectives: dict[str, float | None]

    def to_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "rep_id": self.rep_id,
            "team_id": self.team_id,
            "score": self.score,
            "overall": self.overall,
            "perspectives": self.perspectives,
        }


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One entry of the change stream: a card was written."""

    id: str
    fields: dict[str, str]


class RedisScorecardReader:
    """Read-only access to scorecards and leaderboards under one prefix."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str, *, owns_client: bool = False):
        self.keys = RedisKeys(prefix)
        self._client = client
        self._owns_client = owns_client

    @classmethod
    def from_url(cls, url: str, prefix: str, *, timeout_s: float = 5.0) -> RedisScorecardReader:
        """A reader with its own client that fails fast (a CLI should not hang on a dead server)."""
        client = redis.asyncio.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=timeout_s,
            # Reads block on XREAD up to their own limit; the socket timeout must be longer.
            socket_timeout=timeout_s + 30,
        )
        return cls(client, prefix, owns_client=True)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def ping(self) -> None:
        """Raise ``RedisUnavailableError`` unless Redis answers."""
        with _translated("ping"):
            await self._client.ping()

    async def get_cards(
        self, rep_id: str, windows: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The rep's stored cards (with ``updated_at`` and ``change``), shortest window first.

        ``windows`` None means every window any card was written for; missing
        windows are left out, so an unknown rep gives ``[]``.
        """
        with _translated(f"cards of {rep_id!r}"):
            if windows is None:
                known = await self._client.smembers(self.keys.windows)
                windows = sorted((_text(w) for w in known), key=window_order)
            if not windows:
                return []
            # A rep's windows share the {rep} hash slot: one MGET, even on a cluster.
            raws = await self._client.mget([self.keys.rep_card(rep_id, w) for w in windows])
        return [_card(raw, rep_id) for raw in raws if raw is not None]

    async def leaderboard(
        self,
        window: str,
        by: str = OVERALL,
        *,
        team: str | None = None,
        limit: int | None = None,
        ascending: bool = False,
    ) -> list[LeaderboardRow]:
        """Reps of ``window`` (or of one ``team``) ranked by ``by``, best first.

        Ties are ordered by rep_id ascending. ZREVRANGE would order them reverse
        lexicographically, so every member is fetched and sorted here: one read of
        a few thousand members, which a leaderboard is. ``ascending`` ranks the
        smallest first (a lower-is-better KPI such as sales_cycle_days).
        """
        metric = metric_for(by)
        board = (
            self.keys.leaderboard(window, metric)
            if team is None
            else self.keys.team_leaderboard(window, team, metric)
        )
        with _translated(f"leaderboard {board}"):
            # withscores=True answers (member, score) pairs; the stubs type it loosely.
            members: list[Any] = await self._client.zrange(board, 0, -1, withscores=True)
        sign = 1.0 if ascending else -1.0
        ranked = sorted(
            ((_text(rep), float(score)) for rep, score in members),
            key=lambda item: (sign * item[1], item[0]),
        )
        if limit is not None:
            ranked = ranked[:limit]
        cards = await self._cards_of([rep for rep, _ in ranked], window)
        rows = []
        for rank, ((rep, score), card) in enumerate(zip(ranked, cards, strict=True), start=1):
            card = card or {}
            rows.append(
                LeaderboardRow(
                    rank=rank,
                    rep_id=rep,
                    team_id=card.get("team_id", team),
                    score=score,
                    overall=card.get("overall"),
                    perspectives=card.get("perspectives") or {},
                )
            )
        return rows

    async def last_change_id(self) -> str:
        """The newest change stream id (``0-0`` when empty): where a follower starts."""
        with _translated("the change stream"):
            last = await self._client.xrevrange(self.keys.changes, count=1)
        return _text(last[0][0]) if last else "0-0"

    async def changes_after(
        self, after: str, *, block_ms: int = 1000, count: int = 1000
    ) -> list[ChangeEntry]:
        """Entries newer than id ``after``, waiting up to ``block_ms`` for the first one."""
        with _translated("the change stream"):
            reply: Any = await self._client.xread(
                {self.keys.changes: after}, count=count, block=block_ms
            )
        # RESP2 answers [[stream, entries]], RESP3 {stream: [entries]}.
        streams = reply.values() if isinstance(reply, dict) else [e for _, e in reply or []]
        return [
            ChangeEntry(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
            for entries in streams
            for entry_id, fields in entries
        ]

    async def _cards_of(self, rep_ids: list[str], window: str) -> list[dict[str, Any] | None]:
        if not rep_ids:
            return []
        # One pipeline of GETs, not MGET: the reps' cards live in different slots.
        with _translated(f"cards of the {window} leaderboard"):
            async with self._client.pipeline(transaction=False) as pipe:
                for rep in rep_ids:
                    pipe.get(self.keys.rep_card(rep, window))
                raws: list[Any] = await pipe.execute()
        pairs = zip(raws, rep_ids, strict=True)
        return [None if raw is None else _card(raw, rep) for raw, rep in pairs]


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """redis-py errors as ours: unavailable (start Redis) versus refused (fix the data)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise RedisUnavailableError(f"reading {what}: {exc}") from exc
    except RedisError as exc:
        raise RedisStoreError(f"reading {what}: {exc}") from exc


def _card(raw: bytes | str, rep_id: str) -> dict[str, Any]:
    try:
        card = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RedisStoreError(f"the card of {rep_id!r} is not JSON: {exc}") from exc
    if not isinstance(card, dict):
        raise RedisStoreError(f"the card of {rep_id!r} is not a JSON object")
    return card


def _text(value: bytes | str | Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
