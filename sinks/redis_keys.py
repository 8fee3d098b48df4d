"""Where scorecards live in Redis: every key name, in one place.

``p`` is ``Settings.redis_prefix`` (default ``ss``). Braces are Redis Cluster hash
tags: only the text between them picks the slot, so keys that are read together
share a slot and multi-key commands (MGET, ZUNIONSTORE, ...) work on a cluster.

==========================================  ============  ==========================
key                                         type          holds
==========================================  ============  ==========================
``p:card:{REP}:WINDOW``                     string        a rep's scorecard (JSON)
``p:teamcard:{TEAM}:WINDOW``                string        a team's scorecard (JSON)
``p:lb:{WINDOW}:METRIC``                    sorted set    every rep, by METRIC
``p:lb:{WINDOW}:teams:METRIC``              sorted set    the teams, by METRIC
``p:team:{TEAM}:reps``                      set           a team's reps (its boards: the
                                                          reps' scores in ``p:lb:``)
``p:reps`` / ``p:teams`` / ``p:windows``    set           every rep, team and window seen
``p:changes``                               stream        one entry per batch of cards
``p:history:{REP}:WINDOW``                  hash          a rep's overall per day
``p:alerts``                                stream        the latest coaching alerts
``p:worker:TOKEN``                          string        a running worker's marker
``p:notify:{CHANNEL}:sent``                 hash          alert id -> its delivery to CHANNEL
``p:notify:{CHANNEL}:sent_at``              sorted set    the same ids by send time (pruning)
``p:notify:{CHANNEL}:parked``               hash          alert id -> a parked delivery
``p:notify:{CHANNEL}:lease``                string        which notify redrives CHANNEL now
``p:notify:channels``                       set           the channels notify delivers to
``p:definitions``                           hash          every scorecard version read
``p:definitions:applied``                   sorted set    the versions put in force
``p:access:grants``                         hash          API tokens' grants, by id
``p:access:session:{HASH}``                 string        a signed-in browser's session
``p:access:login:{HASH}``                   string        a sign-in under way (OIDC)
``p:directory``                             hash          reps' e-mail, manager, team
==========================================  ============  ==========================

- A card's JSON is ``Scorecard.to_dict()`` plus ``updated_at`` (ISO, UTC) and
  ``change``: the move since the previous card of that subject and window,
  ``{"overall", "perspectives": {...}, "kpis": {name: {"value", "attainment",
  "contribution"}}}`` or null when unknown. A rep's windows share the ``{REP}``
  slot, so one MGET reads them all.
- METRIC is ``overall``, ``perspective:NAME`` (financial, customer,
  internal_process, learning_growth) or ``kpi:NAME`` (the KPI's value, not its
  attainment). A member whose score is null is absent, not zero: "no data" must
  not rank last as if it were a bad score.
- Every leaderboard of a window shares the ``{WINDOW}`` slot, so a page reads
  the ranking and the perspectives of the same window from one node. A team's
  ranking is its reps' scores on the window's board (``ZMSCORE``): one write per
  score, whatever the number of teams.
- ``p:changes`` is capped (``XADD MAXLEN ~ 10000``): one entry per write of a batch,
  whose field ``cards`` is a JSON array with one object per card written:
  ``rep_id`` (absent for a team card), ``team_id``, ``window``, ``as_of``,
  ``overall`` and ``delta`` (the overall's change; null when unknown). It notifies
  live pages; the cards and sorted sets are the truth.
- METRIC ``uncapped`` is the card's ``overall_uncapped``: not a ranking of its own
  but the tie-break of every ranking (then the rep id).
- ``p:history:{REP}:WINDOW`` maps each day (ISO, the card's as-of day) to
  ``[overall, overall_uncapped]`` (JSON) as last written that day, for the last
  ``HISTORY_DAYS`` days: a rep page's trend, a leaderboard's move since the day before.
- ``p:worker:TOKEN`` is set by each worker process (a random token) and refreshed every
  few seconds: when it is gone, Redis lost what the worker wrote (a restart without
  persistence, a failover to an empty replica, a FLUSHALL), and the worker writes its
  partitions' cards again.
- ``p:alerts`` is capped (``XADD MAXLEN ~ 1000``); field ``alert`` holds a
  ``CoachingAlert`` (JSON). At least once: a reader drops repeats by ``alert_id``.
- ``p:notify:{CHANNEL}:*`` are ``scorestream notify``'s record of deliveries, one slot per
  channel so that a send and its record (sent, and no longer parked) change in one MULTI.
  ``sent`` maps an alert id to ``{"at", "status", "attempts"}`` (JSON); ``parked`` to
  ``{"alert", "reason", "status", "answer", "parked_at", "not_before"}`` where reason is
  ``down`` (retried in the background), ``refused`` (waits for ``notify redrive``) or
  ``held`` (quiet hours; sent at ``not_before``). Sent ids older than ``NOTIFY_KEEP_DAYS``
  are pruned: the horizon within which a redelivered alert is not sent again.
- ``p:definitions`` maps a version number to its ``DefinitionVersion`` (JSON), as the
  workers read it from ``scorecards.definitions``; ``p:definitions:applied`` holds the
  numbers of the versions a worker put in force, scored by number: the highest is the
  version in force (a refused version is in the first, never in the second).
- ``p:access:grants`` maps a grant id to its ``schemas.access.Grant`` (JSON): the role and
  scope of an API token and the token's SHA-256, never the token. Revoking deletes the field.
- ``p:access:session:{HASH}`` holds a browser session (JSON: how it signed in), HASH being
  the SHA-256 of the cookie's random value; it expires with the session (``EXPIRE``) and
  sign-out deletes it.
- ``p:access:login:{HASH}`` holds a sign-in with the identity provider under way (JSON:
  its nonce, PKCE verifier and where to go after), HASH the SHA-256 of its ``state``; it
  lives minutes and is taken (GETDEL) by the callback, so a callback replayed is refused.
- ``p:directory`` maps a rep id to ``{"team_id", "email", "manager_email"}`` (JSON) from
  the rep's latest ``rep_upserted``: who a signed-in person is, and whom a manager manages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from schemas.kpi_names import KpiName, Perspective
from scorers.scoring import Scorecard

OVERALL: Final = "overall"
UNCAPPED: Final = "uncapped"
"""The leaderboards of ``overall_uncapped``: the tie-break of every ranking."""
PERSPECTIVE_METRIC: Final = "perspective:"
KPI_METRIC: Final = "kpi:"

CHANGES_MAXLEN: Final = 10_000
"""Approximate cap of the change stream: minutes of history for a live page, bounded memory."""

HISTORY_DAYS: Final = 35
"""Days of a rep's daily history kept: a 30-day trend and the day before, with a margin."""

NOTIFY_KEEP_DAYS: Final = 35
"""Days a delivery is remembered: longer than any alert's redelivery (a reset consumer group
re-reading a month of alerts), bounded memory."""

ALERTS_MAXLEN: Final = 1000
"""Approximate cap of the alert stream: weeks of alerts for a mid-sized org's pages."""


# Cached: every card names the same few dozen metrics, spelled once each, not once a card.
@functools.cache
def perspective_metric(name: str) -> str:
    return f"{PERSPECTIVE_METRIC}{name}"


@functools.cache
def kpi_metric(name: str) -> str:
    return f"{KPI_METRIC}{name}"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix; the only code that spells a key."""

    prefix: str

    def rep_card(self, rep_id: str, window: str) -> str:
        return f"{self.prefix}:card:{{{rep_id}}}:{window}"

    def team_card(self, team_id: str, window: str) -> str:
        return f"{self.prefix}:teamcard:{{{team_id}}}:{window}"

    def leaderboard(self, window: str, metric: str) -> str:
        """Every rep of ``window`` ranked by ``metric``."""
        return f"{self.prefix}:lb:{{{window}}}:{metric}"

    def team_reps(self, team_id: str) -> str:
        """The reps of one team (their scores are on the window's boards)."""
        return f"{self.prefix}:team:{{{team_id}}}:reps"

    def teams_leaderboard(self, window: str, metric: str) -> str:
        """The teams themselves (members are team ids)."""
        return f"{self.prefix}:lb:{{{window}}}:teams:{metric}"

    def rep_history(self, rep_id: str, window: str) -> str:
        """The rep's overall per day in ``window``; the rep's slot, like its cards."""
        return f"{self.prefix}:history:{{{rep_id}}}:{window}"

    def worker_marker(self, token: str) -> str:
        return f"{self.prefix}:worker:{token}"

    def notify_sent(self, channel: str) -> str:
        return f"{self.prefix}:notify:{{{channel}}}:sent"

    def notify_sent_at(self, channel: str) -> str:
        return f"{self.prefix}:notify:{{{channel}}}:sent_at"

    def notify_parked(self, channel: str) -> str:
        return f"{self.prefix}:notify:{{{channel}}}:parked"

    def notify_lease(self, channel: str) -> str:
        return f"{self.prefix}:notify:{{{channel}}}:lease"

    @property
    def notify_channels(self) -> str:
        return f"{self.prefix}:notify:channels"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}:alerts"

    @property
    def definitions(self) -> str:
        return f"{self.prefix}:definitions"

    @property
    def applied_definitions(self) -> str:
        return f"{self.prefix}:definitions:applied"

    @property
    def access_grants(self) -> str:
        return f"{self.prefix}:access:grants"

    def session(self, digest: str) -> str:
        return f"{self.prefix}:access:session:{{{digest}}}"

    def login(self, digest: str) -> str:
        return f"{self.prefix}:access:login:{{{digest}}}"

    @property
    def directory(self) -> str:
        return f"{self.prefix}:directory"

    @property
    def reps(self) -> str:
        return f"{self.prefix}:reps"

    @property
    def teams(self) -> str:
        return f"{self.prefix}:teams"

    @property
    def windows(self) -> str:
        return f"{self.prefix}:windows"

    @property
    def changes(self) -> str:
        return f"{self.prefix}:changes"

    @property
    def match_all(self) -> str:
        """SCAN pattern of every key under the prefix (and nothing of a longer prefix)."""
        return f"{_glob_escape(self.prefix)}:*"


def _glob_escape(text: str) -> str:
    # Settings forbid these characters in the prefix; escaping keeps SCAN exact anyway.
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def all_metrics() -> list[str]:
    """Every METRIC a card of any definition can have: the boards of a window."""
    return [
        OVERALL,
        UNCAPPED,
        *(perspective_metric(p.value) for p in Perspective),
        *(kpi_metric(k.value) for k in KpiName),
    ]


def card_metrics(card: Scorecard) -> dict[str, float | None]:
    """A card's score in each of its leaderboards, keyed by METRIC; None means "leave it out"."""
    metrics: dict[str, float | None] = {OVERALL: card.overall, UNCAPPED: card.overall_uncapped}
    for name, score in card.perspectives.items():
        metrics[perspective_metric(name)] = score
    for name, kpi in card.kpis.items():
        metrics[kpi_metric(name)] = kpi.value
    return metrics
