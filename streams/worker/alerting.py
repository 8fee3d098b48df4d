"""Coaching alerts in the worker: facts from the state, rules from ``scorers.alerts``,
rule state and alert markers in Redis, alerts on ``scorecards.alerts``.

Redis holds what must survive restarts and rebalances: per rep and rule whether the
condition is true and when it last fired (edge triggering and cooldown), and a marker
per alert id. An alert is marked "pending" (SET NX: a second evaluation of the same
alert, after a redelivery or a restart, finds the marker and stops), sent, then
marked "sent"; a worker that starts re-sends the alerts still pending, so a crash
between the marker and the send loses nothing. A sent alert is also appended to the
capped alert stream the web pages read (``sinks.redis_alerts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import orjson
import redis.asyncio
import structlog

from schemas.outputs import CoachingAlert
from schemas.scorecard_definition import ScorecardDefinition
from scorers.alerts import (
    Alert,
    LastActiveDays,
    RepFacts,
    RuleState,
    run_rules,
)
from scorers.calendar import Day, to_date
from scorers.rep_scoring import ScoredRep
from scorers.state import RepStore
from sinks.redis_alerts import append_alert
from sinks.redis_keys import RedisKeys

log = structlog.get_logger()

MARKER_TTL_S = 400 * 86_400
"""Alert markers outlive any cooldown or calendar period a rule can name."""

RAISE_CONCURRENCY = 16
"""Alerts raised at the same time (Redis markers and Kafka acks awaited together)."""

Send = Callable[[bytes, bytes], Awaitable[None]]


class AlertKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def rule_state(self, rep_id: str) -> str:
        """Hash: rule id -> {"active": bool, "last_fired": day}; the rep's hash slot."""
        return f"{self.prefix}:alertstate:{{{rep_id}}}"

    def marker(self, alert_id: str) -> str:
        return f"{self.prefix}:alert:{alert_id}"


class Alerting:
    def __init__(
        self,
        definition: ScorecardDefinition,
        client: redis.asyncio.Redis,
        prefix: str,
        send_alert: Send,
    ) -> None:
        self.definition = definition
        self.client = client
        self.keys = AlertKeys(prefix)
        self.redis_keys = RedisKeys(prefix)
        self.send_alert = send_alert
        self._states: dict[str, dict[str, RuleState]] = {}
        self.last_active = LastActiveDays(definition)
        self._fired: list[Alert] = []

    def forget(self) -> None:
        self._states.clear()
        self.last_active.forget()
        self._fired.clear()

    async def evaluate(self, store: RepStore, scored: ScoredRep) -> None:
        """Run every rule for the rep; the alerts that fired wait for ``raise_fired``."""
        if not self.definition.alerts:
            return
        facts = rep_facts(self.definition, scored, self.last_active.of(store, scored.as_of))
        states = await self._load(scored.rep_id)
        fired, changed = run_rules(self.definition, facts, states)
        if changed:
            states.update(changed)
            await self.client.hset(
                self.keys.rule_state(scored.rep_id),
                mapping={r: orjson.dumps([s.active, s.last_fired]) for r, s in changed.items()},
            )
        self._fired.extend(fired)

    async def raise_fired(self) -> list[CoachingAlert]:
        """Mark and send every alert fired since the last call; return those raised now.

        All at once: each waits for its Redis marker and Kafka's ack, and a day rollover
        fires an alert for many reps at the same time.
        """
        fired, self._fired = self._fired, []
        # Bounded: each alert in flight holds a Redis connection of the client's pool.
        slots = asyncio.Semaphore(RAISE_CONCURRENCY)

        async def raise_one(alert: Alert) -> CoachingAlert | None:
            async with slots:
                return await self._raise(alert)

        raised = await asyncio.gather(*(raise_one(alert) for alert in fired))
        return [a for a in raised if a is not None]

    async def resend_pending(self) -> int:
        """Send the alerts a previous worker marked but may not have sent."""
        count = 0
        async for key in self.client.scan_iter(match=self.keys.marker("*"), count=1000):
            raw = await self.client.get(key)
            marker = orjson.loads(raw) if raw else {}
            if marker.get("status") == "pending":
                alert = CoachingAlert.model_validate(marker["alert"])
                await self._send(alert)
                count += 1
        return count

    async def _load(self, rep_id: str) -> dict[str, RuleState]:
        states = self._states.get(rep_id)
        if states is None:
            raw = await self.client.hgetall(self.keys.rule_state(rep_id))
            states = {
                (k.decode() if isinstance(k, bytes) else k): RuleState(*orjson.loads(v))
                for k, v in raw.items()
            }
            self._states[rep_id] = states
        return states

    async def _raise(self, alert: Alert) -> CoachingAlert | None:
        message = CoachingAlert(
            alert_id=alert.alert_id,
            rule=alert.rule,
            kind=alert.kind,
            severity=alert.severity,  # type: ignore[arg-type]
            rep_id=alert.rep_id,
            team_id=alert.team_id,
            window=alert.window,
            period=alert.period,
            as_of=to_date(alert.as_of),
            evidence=alert.evidence,
            text=alert.text,
            raised_at=datetime.now(UTC),
        )
        pending = orjson.dumps({"status": "pending", "alert": message.model_dump(mode="json")})
        first = await self.client.set(
            self.keys.marker(alert.alert_id), pending, nx=True, ex=MARKER_TTL_S
        )
        if not first:
            log.info("alert_already_raised", alert_id=alert.alert_id, rep_id=alert.rep_id)
            return None
        await self._send(message)
        return message

    async def _send(self, alert: CoachingAlert) -> None:
        await self.send_alert(alert.rep_id.encode(), alert.model_dump_json().encode())
        await append_alert(self.client, self.redis_keys, alert)
        sent = orjson.dumps({"status": "sent", "alert": alert.model_dump(mode="json")})
        await self.client.set(self.keys.marker(alert.alert_id), sent, ex=MARKER_TTL_S)
        log.info("alert", alert_id=alert.alert_id, rule=alert.rule, rep_id=alert.rep_id,
                 severity=alert.severity)  # fmt: skip


def rep_facts(
    definition: ScorecardDefinition, scored: ScoredRep, last_active: Mapping[str, Day | None]
) -> RepFacts:
    """What the rules look at for a just-scored rep (``last_active``: ``LastActiveDays``)."""
    quota = scored.profile.monthly_quota
    return RepFacts(
        rep_id=scored.rep_id,
        team_id=scored.team_id,
        as_of=scored.as_of,
        cards=scored.rule_cards,
        monthly_quota=definition.default_monthly_quota if quota is None else quota,
        earlier=scored.earlier,
        last_active=last_active,
        active_since=scored.profile.first_day,
    )
