"""The worker's sends to Kafka, in the order a plan lists them, with their logs and metrics.

Every send returns once the producer holds the message, with its delivery: alerts are
waited for at once (they leave the rep's outbox once Kafka has them), the rest by the
batch before it is acked (``delivered``). So a message Kafka refuses fails its batch, which
ends the worker, and a restart sends it again with the same key. (faust's flush before a
commit waits for every send, but does not fail on a refused one: it would be lost.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from schemas.outputs import CoachingAlert
from scorers.effects import DeadLettered, ScoreEvent, TeamUpdate, team_messages
from streams.worker.metrics import WorkerMetrics

log = structlog.get_logger()

Delivery = Awaitable[Any]
"""A send's delivery: raises if Kafka refused the message."""
Send = Callable[[str, bytes, bytes], Awaitable[Delivery]]
"""(topic, key, value) -> the delivery future, once the producer has the message."""


@dataclass(frozen=True, slots=True)
class Topics:
    inputs: Collection[str]
    dead_letters: str
    updates: str
    alerts: str
    teams: str


@dataclass(frozen=True, slots=True)
class Outputs:
    send: Send
    topics: Topics
    metrics: WorkerMetrics

    async def dead_letters(self, letters: Sequence[DeadLettered]) -> list[Delivery]:
        deliveries = []
        for dead in letters:
            message, letter = dead.rejected.message, dead.letter
            value = letter.model_dump_json().encode()
            deliveries.append(await self.send(self.topics.dead_letters, message.key or b"", value))
            self.metrics.dead_letters.labels(letter.reason.value).inc()
            bound = log.bind(
                topic=message.topic, partition=message.partition, offset=message.offset
            )
            if dead.rejected.trace is not None:
                bound.error("internal_error", detail=letter.detail, traceback=dead.rejected.trace)
            else:
                bound.warning("dead_letter", reason=letter.reason.value, detail=letter.detail)
        return deliveries

    async def scores(
        self, events: Sequence[ScoreEvent], teams: Sequence[TeamUpdate]
    ) -> list[Delivery]:
        deliveries = [
            await self.send(self.topics.updates, event.rep_id.encode(), event.value)
            for event in events
        ]
        for team, message in team_messages(teams):
            deliveries.append(await self.send(self.topics.teams, team.encode(), message))
        return deliveries

    async def alerts(self, alerts: Mapping[str, Sequence[CoachingAlert]]) -> None:
        """Send each rep's alerts, keyed by the rep, and wait until Kafka has them all."""
        keyed = [(rep_id, a) for rep_id, fired in alerts.items() for a in fired]
        await delivered(
            [
                await self.send(self.topics.alerts, rep_id.encode(), a.model_dump_json().encode())
                for rep_id, a in keyed
            ]
        )
        for rep_id, a in keyed:
            self.metrics.alerts.labels(a.rule).inc()
            log.info("alert", alert_id=a.alert_id, rule=a.rule, rep_id=rep_id)


async def delivered(deliveries: Sequence[Delivery]) -> None:
    """Wait until Kafka has every one of ``deliveries``; raises if it refused any."""
    for delivery in deliveries:
        await delivery
