"""Read what the worker wrote to Redis: cards, leaderboards, histories, the live streams.

It sits beside the writer because both follow one key layout (``sinks.redis_keys``);
callers (the CLI, a web page) never spell a key. Redis being down raises
``RedisUnavailableError``, so a caller can tell "start Redis" from "no such rep".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import orjson
import redis.asyncio
import structlog
from pydantic import ValidationError

from schemas.definition_version import DefinitionVersion, VersionError, parse_version
from schemas.outputs import CoachingAlert
from schemas.windows import window_order
from sinks.exceptions import RedisStoreError
from sinks.redis_calls import text as _text
from sinks.redis_calls import translated as _translated
from sinks.redis_keys import OVERALL, UNCAPPED, RedisKeys
from sinks.redis_notify import read_deliveries
from streams.views.rankings import DayScore, LeaderboardRow, metric_for, ranked, ranks_of

log = structlog.get_logger(__name__)

SCORECARD_FIELDS: Final = (
    "rep_id",
    "team_id",
    "window",
    "as_of",
    "overall",
    "overall_uncapped",
    "definition_version",
    "perspectives",
    "kpis",
)
"""A stored card's keys that make up the published shape (``Scorecard.to_dict()``)."""


def public_card(card: dict[str, Any]) -> dict[str, Any]:
    """A stored card without ``updated_at``/``change``: exactly the replay's JSON shape."""
    return {k: card[k] for k in SCORECARD_FIELDS if k in card}


def client_options(timeout_s: float) -> dict[str, Any]:
    """How a reader's own Redis client is made (``streams.runtime.connections.scorecard_reader``):
    it fails fast, since a CLI should not hang on a dead server."""
    return {
        "decode_responses": True,
        "socket_connect_timeout": timeout_s,
        # Reads block on XREAD up to their own limit; the socket timeout must be longer.
        "socket_timeout": timeout_s + 30,
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
            windows = windows if windows is not None else await self.windows()
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

        Ties go to the higher uncapped overall, then to the lower rep_id, so every
        member is fetched and sorted here (ZREVRANGE would order ties by reverse id):
        one read of a few thousand members, which a leaderboard is. ``ascending``
        ranks the smallest first (a lower-is-better KPI such as sales_cycle_days).
        """
        metric = metric_for(by)
        boards = [self.keys.leaderboard(window, m) for m in (metric, UNCAPPED)]
        with _translated(f"leaderboard {boards[0]}"):
            if team is None:
                # One slot ({window}): the ranking and its tie-break in one round trip.
                async with self._client.pipeline(transaction=False) as pipe:
                    for board in boards:
                        pipe.zrange(board, 0, -1, withscores=True)
                    members, uncapped_members = await pipe.execute()
            else:  # the team's reps' scores on the window's boards (absent: no score)
                reps = sorted(
                    _text(r) for r in await self._client.smembers(self.keys.team_reps(team))
                )
                members, uncapped_members = [], []
                if reps:
                    async with self._client.pipeline(transaction=False) as pipe:
                        for board in boards:
                            pipe.zmscore(board, reps)
                        scores, uncapped_scores = await pipe.execute()
                    members = _present(reps, scores)
                    uncapped_members = _present(reps, uncapped_scores)
        uncapped = {_text(rep): float(score) for rep, score in uncapped_members}
        order = ranked(((_text(r), float(s)) for r, s in members), uncapped, ascending)
        shown = order if limit is None else order[:limit]
        cards = [card or {} for card in await self._cards_of([r for r, _ in shown], window)]
        as_ofs = [card["as_of"] for card in cards if "as_of" in card]
        before: dict[str, DayScore] = {}
        if as_ofs:
            yesterday = (date.fromisoformat(max(as_ofs)) - timedelta(days=1)).isoformat()
            # Yesterday's ranking needs every member; the points moved only the shown ones.
            wanted = order if by == OVERALL else shown
            before = await self._day_scores([r for r, _ in wanted], window, yesterday)
        places = ranks_of(before) if by == OVERALL else {}
        rows = []
        for rank, ((rep, score), card) in enumerate(zip(shown, cards, strict=True), start=1):
            overall, then = card.get("overall"), before.get(rep)
            rows.append(
                LeaderboardRow(
                    rank=rank,
                    rep_id=rep,
                    team_id=card.get("team_id", team),
                    score=score,
                    overall=overall,
                    perspectives=card.get("perspectives") or {},
                    overall_since_yesterday=(
                        None if then is None or overall is None else overall - then.overall
                    ),
                    rank_since_yesterday=None if rep not in places else places[rep] - rank,
                )
            )
        return rows

    async def history(self, rep_id: str, window: str) -> list[DayScore]:
        """The rep's overall per day in ``window``, oldest first (``HISTORY_DAYS`` at most).

        The history holds the days that are over; the current card is its own day's point.
        """
        with _translated(f"the history of {rep_id!r}"):
            # One slot ({rep}): the history and the card in one round trip.
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.rep_history(rep_id, window))
                pipe.get(self.keys.rep_card(rep_id, window))
                raw, card_raw = await pipe.execute()
        days = {_text(day): _day_score(_text(day), value, rep_id) for day, value in raw.items()}
        card = None if card_raw is None else _card(card_raw, rep_id)
        if card is not None and card.get("overall") is not None:
            days[card["as_of"]] = DayScore(
                card["as_of"], float(card["overall"]), card.get("overall_uncapped")
            )
        return sorted(days.values(), key=lambda point: point.day)

    async def team_cards(
        self, team_id: str, windows: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The team's stored cards, shortest window first (``[]`` for an unknown team)."""
        with _translated(f"cards of team {team_id!r}"):
            windows = windows if windows is not None else await self.windows()
            if not windows:
                return []
            raws = await self._client.mget([self.keys.team_card(team_id, w) for w in windows])
        return [_card(raw, team_id) for raw in raws if raw is not None]

    async def windows(self) -> list[str]:
        """Every window any card was written for, shortest first."""
        with _translated("the windows"):
            known = await self._client.smembers(self.keys.windows)
        return sorted((_text(w) for w in known), key=window_order)

    async def teams(self) -> list[str]:
        """Every team any card named, by id."""
        with _translated("the teams"):
            known = await self._client.smembers(self.keys.teams)
        return sorted(_text(t) for t in known)

    async def definition_in_force(self) -> int | None:
        """The scorecard version in force: the highest a worker put in force (None: none yet)."""
        with _translated("the scorecard version in force"):
            top = await self._client.zrevrange(self.keys.applied_definitions, 0, 0)
        return int(_text(top[0])) if top else None

    async def definition_versions(self) -> list[DefinitionVersion]:
        """Every scorecard version the workers read from the topic, oldest first."""
        with _translated("the scorecard versions"):
            raw: dict[Any, Any] = await self._client.hgetall(self.keys.definitions)
        versions = []
        for number, value in sorted(raw.items(), key=lambda item: int(_text(item[0]))):
            try:
                versions.append(parse_version(_text(number).encode(), _bytes(value)))
            except VersionError as exc:
                log.warning("reading.bad_definition_version", version=_text(number), error=str(exc))
        return versions

    async def latest_alerts(
        self,
        limit: int,
        *,
        rep_id: str | None = None,
        keep: Callable[[CoachingAlert], bool] | None = None,
        scan: int = 1000,
    ) -> list[CoachingAlert]:
        """The newest alerts first (of one rep, if given; those ``keep`` keeps, if given),
        among the ``scan`` newest entries."""
        with _translated("the alert stream"):
            entries: Any = await self._client.xrevrange(self.keys.alerts, count=scan)
        alerts = _alerts((_text(entry_id), fields) for entry_id, fields in entries)
        return [
            a
            for _, a in alerts
            if (rep_id is None or a.rep_id == rep_id) and (keep is None or keep(a))
        ][:limit]

    async def alert_deliveries(self, alert_ids: list[str]) -> dict[str, dict[str, str]]:
        """Where ``scorestream notify`` delivered each alert, per channel (``read_deliveries``)."""
        with _translated("notify's delivery records"):
            return await read_deliveries(self._client, self.keys, alert_ids)

    async def last_change_id(self) -> str:
        """The newest change stream id (``0-0`` when empty): where a follower starts."""
        return await self._last_id(self.keys.changes)

    async def last_alert_id(self) -> str:
        """The newest alert stream id (``0-0`` when empty)."""
        return await self._last_id(self.keys.alerts)

    async def changes_after(
        self, after: str, *, block_ms: int = 1000, count: int = 1000
    ) -> list[ChangeEntry]:
        """Entries newer than id ``after``, waiting up to ``block_ms`` for the first one."""
        entries = await self._entries_after(self.keys.changes, after, block_ms, count)
        return [
            ChangeEntry(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
            for entry_id, fields in entries
        ]

    async def alerts_after(
        self, after: str, *, block_ms: int = 1000, count: int = 100
    ) -> tuple[str, list[CoachingAlert]]:
        """Alerts appended after id ``after`` (waiting up to ``block_ms``), and the id to
        read after next time (past any entry skipped as unreadable)."""
        entries = await self._entries_after(self.keys.alerts, after, block_ms, count)
        alerts = _alerts((_text(entry_id), fields) for entry_id, fields in entries)
        return (_text(entries[-1][0]) if entries else after), [alert for _, alert in alerts]

    async def _last_id(self, stream: str) -> str:
        with _translated(f"stream {stream}"):
            last = await self._client.xrevrange(stream, count=1)
        return _text(last[0][0]) if last else "0-0"

    async def _entries_after(
        self, stream: str, after: str, block_ms: int, count: int
    ) -> list[tuple[Any, dict[Any, Any]]]:
        with _translated(f"stream {stream}"):
            reply: Any = await self._client.xread({stream: after}, count=count, block=block_ms)
        # RESP2 answers [[stream, entries]], RESP3 {stream: [entries]}.
        streams = reply.values() if isinstance(reply, dict) else [e for _, e in reply or []]
        return [(entry_id, fields) for entries in streams for entry_id, fields in entries]

    async def _day_scores(self, rep_ids: list[str], window: str, day: str) -> dict[str, DayScore]:
        """Each rep's overall at the end of ``day``, for the reps that had one."""
        if not rep_ids:
            return {}
        with _translated(f"histories of the {window} leaderboard"):
            async with self._client.pipeline(transaction=False) as pipe:
                for rep in rep_ids:
                    pipe.hget(self.keys.rep_history(rep, window), day)
                raws: list[Any] = await pipe.execute()
        return {
            rep: _day_score(day, raw, rep)
            for rep, raw in zip(rep_ids, raws, strict=True)
            if raw is not None
        }

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


def _day_score(day: str, raw: bytes | str, rep_id: str) -> DayScore:
    try:
        overall, uncapped = orjson.loads(raw)
        return DayScore(day, float(overall), None if uncapped is None else float(uncapped))
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise RedisStoreError(f"the history of {rep_id!r} on {day} is unreadable: {exc}") from exc


def _alerts(entries: Iterable[tuple[str, dict[Any, Any]]]) -> list[tuple[str, CoachingAlert]]:
    """Parsed alert entries in the order given, each alert id once; a bad entry is logged."""
    seen: set[str] = set()
    out = []
    for entry_id, fields in entries:
        try:
            alert = CoachingAlert.model_validate_json(
                fields.get(b"alert", fields.get("alert", b""))
            )
        except ValidationError as exc:
            log.warning("reading.bad_alert_entry", entry_id=entry_id, error=str(exc))
            continue
        if alert.alert_id not in seen:
            seen.add(alert.alert_id)
            out.append((entry_id, alert))
    return out


def _card(raw: bytes | str, rep_id: str) -> dict[str, Any]:
    try:
        card = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RedisStoreError(f"the card of {rep_id!r} is not JSON: {exc}") from exc
    if not isinstance(card, dict):
        raise RedisStoreError(f"the card of {rep_id!r} is not a JSON object")
    return card


def _present(reps: list[str], scores: list[Any]) -> list[tuple[str, Any]]:
    """(rep, score) of the reps ``ZMSCORE`` found on the board."""
    return [(rep, score) for rep, score in zip(reps, scores, strict=True) if score is not None]


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
