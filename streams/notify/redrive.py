"""Sending parked alerts later: in the background of the service, and by ``notify redrive``.

The service probes each channel with parked alerts: those parked because the channel was
down, as soon as its backoff allows, and those held by quiet hours once they are due. A
channel whose first redriven alert fails again waits for its next probe; one that takes it
gets the rest, oldest first. Alerts a receiver refused (4xx) wait for a person: ``notify
redrive`` sends them (and every other parked alert) once, after the cause is fixed.

A Redis lease per channel lets one process redrive a channel at a time, so two instances
(or the service and the command) never send the same parked alert at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

import structlog

from streams.notify.lanes import ChannelLane

log = structlog.get_logger(__name__)

LEASE_S: Final = 30.0
"""A redriver's hold on a channel; renewed each round, so a dead one frees it this soon."""
ROUND_S: Final = 1.0
"""How often the service looks for due parked alerts."""
PRUNE_EVERY_S: Final = 3600.0
"""How often sends older than the dedupe horizon are forgotten (``NotifyStore.prune``)."""


async def redrive_channel(
    lane: ChannelLane, token: str, *, refused: bool = False, budget_s: float = 0.0
) -> Counter[str]:
    """Send the lane's due parked alerts, oldest first, until one fails again; ``refused``
    includes those a receiver refused. Returns the outcomes counted."""
    outcomes: Counter[str] = Counter()
    if not await lane.store.take_lease(lane.name, token, LEASE_S):
        outcomes["lease held elsewhere"] += 1
        return outcomes
    try:
        now = datetime.now(UTC)
        waiting = await lane.store.parked(lane.name)
        due_digest = [p for p in waiting if p.reason == "digest"
                      and p.not_before is not None and p.not_before <= now]  # fmt: skip
        if due_digest:
            outcome = await lane.send_digest(due_digest)
            outcomes[f"digest {outcome}"] += 1
            if outcome == "parked:down":
                return outcomes
        for parked in waiting:
            if parked.reason == "digest":
                continue
            if parked.reason == "refused" and not refused:
                continue
            if parked.not_before is not None and parked.not_before > now:
                continue
            outcome = await lane.redrive_one(parked, budget_s=budget_s)
            outcomes[outcome] += 1
            if outcome == "parked:down":
                break  # still down: the next probe tries again
            await lane.store.take_lease(lane.name, token, LEASE_S)
    finally:
        await lane.store.release_lease(lane.name, token)
    return outcomes


async def redrive_forever(lanes: Mapping[str, ChannelLane], stop: asyncio.Event) -> None:
    """The service's background redriver: every ``ROUND_S``, each channel whose probe is due."""
    token = uuid.uuid4().hex
    pruned_at = float("-inf")
    while not stop.is_set():
        if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
            for lane in lanes.values():
                while await lane.store.prune(lane.name, datetime.now(UTC)):
                    pass
            pruned_at = time.monotonic()
        for lane in lanes.values():
            if lane.probe_due():
                outcomes = await redrive_channel(lane, token)
                if outcomes.get("sent"):
                    log.info("redrove parked alerts", channel=lane.name, **outcomes)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ROUND_S)


async def redrive_all(
    lanes: Mapping[str, ChannelLane], *, wait_for_lease_s: float = LEASE_S + 5
) -> dict[str, Counter[str]]:
    """``notify redrive``: every parked alert of every lane, refused ones included, each
    given its channel's retry budget. Waits for a running service's lease to lapse."""
    token = uuid.uuid4().hex
    report: dict[str, Counter[str]] = {}
    for lane in lanes.values():
        deadline = asyncio.get_running_loop().time() + wait_for_lease_s
        while True:
            outcomes = await redrive_channel(lane, token, refused=True, budget_s=lane.retry_for_s)
            if "lease held elsewhere" not in outcomes:
                break
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(1.0)
        report[lane.name] = outcomes
    return report
