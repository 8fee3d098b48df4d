"""Score events for downstream services: a ``ScorecardUpdated`` per changed scorecard.

The previous scorecard of each rep and window is kept in memory; after a restart it
is read back once from Redis, so a restarted worker neither repeats unchanged
scorecards nor loses the change since the last one it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import orjson
import redis.asyncio

from scorers.changes import ScorecardChange
from scorers.scoring import Scorecard
from sinks.redis_keys import RedisKeys


class CardHistory:
    """The last scorecard written per (rep, window): memory first, Redis after a restart."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self._last: dict[tuple[str, str], Scorecard] = {}

    def forget(self) -> None:
        self._last.clear()

    async def previous(self, cards: Sequence[Scorecard]) -> list[Scorecard | None]:
        keys = [(c.rep_id or "", c.window) for c in cards]
        missing = [k for k in keys if k not in self._last]
        if missing:
            raws = await self.client.mget([self.keys.rep_card(rep, w) for rep, w in missing])
            for key, raw in zip(missing, raws, strict=True):
                if raw is not None:
                    self._last[key] = Scorecard.from_dict(orjson.loads(raw))
        return [self._last.get(k) for k in keys]

    def remember(self, cards: Sequence[Scorecard]) -> None:
        for card in cards:
            self._last[(card.rep_id or "", card.window)] = card


def score_event(
    card: Scorecard, previous: Scorecard | None, moved: ScorecardChange, cause: dict[str, object]
) -> bytes | None:
    """The ``ScorecardUpdated`` JSON for ``card``, or None when nothing but the as-of day
    changed. ``cause`` is a ``Cause`` dumped once for all of a rep's cards.

    Built as a dict and dumped by orjson: a pydantic model per card (and one per KPI)
    cost more than the rest of the send; tests/streams/test_score_events.py holds the
    output to the ``ScorecardUpdated`` contract.
    """
    if previous is not None and card.same_scores(previous):
        return None
    assert card.rep_id is not None
    body = card.to_dict()
    kpis = cast(dict[str, dict[str, object]], body["kpis"])
    for name, kpi in kpis.items():
        kpi["value_change"] = moved.kpis[name].value
        kpi["contribution_change"] = moved.kpis[name].contribution
    body.update(
        overall_change=moved.overall,
        perspective_changes=moved.perspectives,
        cause=cause,
        emitted_at=datetime.now(UTC),
    )
    return orjson.dumps(body)
