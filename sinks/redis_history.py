"""A rep's daily history in Redis: the overall of each day, for trends and day-on-day moves.

A day's entry is written once the day is over for the card: when the sink writes a rep's
card for a later day, the card it replaces is that day's last, and goes to the history in
the same pipeline. Today's value is the card itself, so readers take it from there. Each
entry is ``[overall, overall_uncapped]``; days older than ``HISTORY_DAYS`` are dropped by
the same command, so the hash stays a few hundred bytes per rep and window. Key and value
layout: ``sinks.redis_keys``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import orjson
import redis.asyncio

from scorers.calendar import Day, to_date
from scorers.scoring import Scorecard
from sinks.redis_keys import HISTORY_DAYS

_HISTORY_PUT: Final = """
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
for _, day in ipairs(redis.call('HKEYS', KEYS[1])) do
  if day < ARGV[3] then redis.call('HDEL', KEYS[1], day) end
end
return 0
"""
"""Set (or, for '', delete) day ARGV[1] of history KEYS[1] and drop the days before ARGV[3]
(ISO days sort as text). A script, so the trim is one command that knows the hash's days;
one key, so it runs on a cluster too."""


class History:
    """Queues day entries in a pipeline through one registered script (EVALSHA: the script's
    text goes to Redis once, not with every entry)."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._put = client.register_script(_HISTORY_PUT)

    def queue(
        self, pipe: redis.asyncio.client.Pipeline, key: str, finished: Scorecard, today: Day
    ) -> None:
        """Queue the day of ``finished`` (a day's last card) in the rep's daily history
        (``sinks.redis_keys``), keeping the ``HISTORY_DAYS`` days up to ``today``; absolute,
        so a rewrite changes nothing."""
        day = to_date(finished.as_of)
        overall = finished.overall
        value = b"" if overall is None else orjson.dumps([overall, finished.overall_uncapped])
        first_kept = (to_date(today) - timedelta(days=HISTORY_DAYS - 1)).isoformat()
        pipe.scripts.add(self._put)  # type: ignore[arg-type]  # loaded first if Redis lacks it
        pipe.evalsha(self._put.sha, 1, key, day.isoformat(), value, first_kept)
