"""A rep's daily history in Redis: the overall of each day, for trends and day-on-day moves.

The scorecard sink queues one entry per rep card it writes, in the same pipeline as
the card, so the history never runs ahead of or behind the cards. Each entry is the
day's latest ``[overall, overall_uncapped]``; days older than ``HISTORY_DAYS`` are
dropped by the same command, so the hash stays a few hundred bytes per rep and window.
Key and value layout: ``sinks.redis_keys``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import orjson
import redis.asyncio

from scorers.calendar import to_date
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


def queue_history(pipe: redis.asyncio.client.Pipeline, key: str, card: Scorecard) -> None:
    """Queue the card's day in the rep's daily history (``sinks.redis_keys``), trimmed to
    ``HISTORY_DAYS`` days before it; absolute, so a rewrite changes nothing."""
    day = to_date(card.as_of)
    value = b"" if card.overall is None else orjson.dumps([card.overall, card.overall_uncapped])
    first_kept = (day - timedelta(days=HISTORY_DAYS - 1)).isoformat()
    pipe.eval(_HISTORY_PUT, 1, key, day.isoformat(), value, first_kept)
