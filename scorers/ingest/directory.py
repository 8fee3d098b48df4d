"""Who a CRM owner is: the rep directory's ``crm_owner_ids``, read from ``crm.reps``.

A record is credited to a rep only when exactly one rep claims its owner id: an unknown
or shared id is a rejection the sender sees, never a guess.
"""

from __future__ import annotations

from collections import defaultdict

from schemas.events import RepUpserted


class OwnerDirectory:
    """The latest ``crm_owner_ids`` of every rep, as owner id -> rep ids per CRM."""

    def __init__(self) -> None:
        self._claims: dict[str, dict[str, str]] = {}
        self._owners: dict[tuple[str, str], set[str]] = defaultdict(set)

    def upsert(self, rep: RepUpserted) -> None:
        """The rep's latest directory entry (a compacted topic: the last one per rep wins)."""
        self.remove(rep.rep_id)
        claims = dict(rep.crm_owner_ids or {})
        self._claims[rep.rep_id] = claims
        for crm, owner_id in claims.items():
            self._owners[(crm, owner_id)].add(rep.rep_id)

    def remove(self, rep_id: str) -> None:
        for crm, owner_id in self._claims.pop(rep_id, {}).items():
            reps = self._owners[(crm, owner_id)]
            reps.discard(rep_id)
            if not reps:
                del self._owners[(crm, owner_id)]

    def reps_of(self, crm: str, owner_id: str) -> frozenset[str]:
        """Every rep that names ``owner_id`` as its user in ``crm`` (one, when all is well)."""
        return frozenset(self._owners.get((crm, owner_id), ()))

    def __len__(self) -> int:
        return len(self._claims)
