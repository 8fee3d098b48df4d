"""Names of the Kafka topics: the contract between producers, the worker and subscribers.

Every topic and consumer group we own starts with ``PREFIX`` (``SCORESTREAM_TOPIC_PREFIX``,
empty by default), so environments that share a cluster (a staging beside production on
one managed Kafka, the tests beside a demo) never see each other's names.
"""

from __future__ import annotations

import os
import uuid
from typing import Final

PREFIX: Final = os.environ.get("SCORESTREAM_TOPIC_PREFIX", "")
"""Read once, as the process starts; ``schemas.settings`` checks it with the other
variables (a command with a bad one stops before it names a topic)."""


def named(name: str) -> str:
    """A topic, consumer group or transactional id of ours: ``name`` after the prefix."""
    return PREFIX + name


def throwaway_group(purpose: str) -> str:
    """A consumer group of one reader that commits nothing (``tail``, ``topics watch``,
    ``dlq``, the ingest gateway's directory): new each time, so readers never share."""
    return named(f"scorestream-{purpose}-{uuid.uuid4().hex[:12]}")


DEALS: Final = named("crm.deals")
CALLS: Final = named("crm.calls")
NPS: Final = named("crm.nps")
LEADS: Final = named("crm.leads")
ACCOUNTS: Final = named("crm.accounts")
LEARNING: Final = named("crm.learning")
REPS: Final = named("crm.reps")
DLQ: Final = named("crm.dlq")
DLQ_REDRIVEN: Final = named("crm.dlq.redriven")
"""Which dead letters ``scorestream dlq redrive`` has sent back (compacted)."""
UPDATES: Final = named("scorecards.updates")
ALERTS: Final = named("scorecards.alerts")
DEFINITIONS: Final = named("scorecards.definitions")
"""Every published version of the scorecard definition, one key per version (compacted,
one partition: versions are read in the order they were published)."""

ACTIVITY_TOPICS: Final = (DEALS, CALLS, NPS, LEADS, ACCOUNTS, LEARNING)
"""Co-partitioned input topics, all keyed by rep_id with the same partition count."""

CRM_INPUTS: Final = (*ACTIVITY_TOPICS, REPS)
"""What the worker reads: every CRM topic, keyed by rep_id."""

ALL_TOPICS: Final = (*CRM_INPUTS, DLQ, DLQ_REDRIVEN, UPDATES, ALERTS, DEFINITIONS)


def team_updates(app_id: str) -> str:
    """The worker's internal topic of members' window inputs, keyed by team_id."""
    return f"{app_id}-team-updates"


def changelog(app_id: str, table: str) -> str:
    """The compacted topic that backs one of the worker's tables (faust's naming)."""
    return f"{app_id}-{table}-changelog"
