"""Names of the Kafka topics: the contract between producers, the worker and subscribers."""

from __future__ import annotations

from typing import Final

DEALS: Final = "crm.deals"
CALLS: Final = "crm.calls"
NPS: Final = "crm.nps"
LEADS: Final = "crm.leads"
ACCOUNTS: Final = "crm.accounts"
LEARNING: Final = "crm.learning"
REPS: Final = "crm.reps"
DLQ: Final = "crm.dlq"
DLQ_REDRIVEN: Final = "crm.dlq.redriven"
"""Which dead letters ``scorestream dlq redrive`` has sent back (compacted)."""
UPDATES: Final = "scorecards.updates"
ALERTS: Final = "scorecards.alerts"
DEFINITIONS: Final = "scorecards.definitions"
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
