"""What a plan asks the shell to do: frozen, typed effects, one kind per store or topic.

The planner (``scorers.planner``, ``scorers.team_plan``) returns these and the shell in
``streams.worker`` applies them as they are: it decides nothing. The sinks take them too,
so they depend on this vocabulary, not on the planner.

Score events are built as bytes here, not as ``ScorecardUpdated`` models: a pydantic model
per card (and per KPI) cost more than the rest of the send; their KPIs are JSON fragments
made once per KPI score (``scorers.card_json``). Tests hold the bytes to the contract
(``schemas.outputs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from schemas.dead_letter import DeadLetter
from schemas.exceptions import EventError
from schemas.outputs import CoachingAlert
from schemas.team_updates import parse_team_message
from scorers.alerts import Alert
from scorers.calendar import Day, to_date
from scorers.card_json import CardJson, render
from scorers.changes import overall_change, perspective_changes
from scorers.evaluate import input_from_wire, input_to_wire
from scorers.intake import Message, Rejected
from scorers.scoring import Scorecard, WindowInput
from scorers.state import RepWrites

CardKey = tuple[str, str]
"""(rep_id or team_id, window)."""


@dataclass(frozen=True, slots=True)
class CardUpdate:
    """A scorecard to write: its published body, the card it replaces and the move since.
    The KPIs in ``body`` and ``change`` are JSON fragments (``scorers.card_json``)."""

    card: Scorecard
    body: dict[str, object]
    previous: Scorecard | None
    change: dict[str, object]
    """The published move since ``previous``: overall, perspectives, kpis."""
    kpis: CardJson

    @classmethod
    def of(cls, card: Scorecard, previous: Scorecard | None) -> CardUpdate:
        kpis = render(card, previous)
        moved: dict[str, object] = {
            "overall": overall_change(previous, card),
            "perspectives": perspective_changes(previous, card),
            "kpis": kpis.changes(),
        }
        return cls(card, card.to_dict(kpis.bodies()), previous, moved, kpis)


@dataclass(frozen=True, slots=True)
class StateWrite:
    """A rep's values to write to the state table's ``partition`` (its changelog's)."""

    partition: int
    writes: RepWrites


@dataclass(frozen=True, slots=True)
class ClockWrite:
    """An event-clock record to write to the state table's ``partition``."""

    partition: int
    source: str
    """The input partition (``topic|partition``) or ``scorers.clock.AS_OF_SOURCE``."""
    day: Day


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """A message refused, and the dead letter that carries it with its reason."""

    rejected: Rejected
    letter: DeadLetter

    @classmethod
    def of(cls, rejected: Rejected, now: datetime) -> DeadLettered:
        m = rejected.message
        letter = DeadLetter.of(
            m.value,
            key=m.key,
            topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            reason=rejected.reason,
            detail=rejected.detail,
            failed_at=now,
        )
        return cls(rejected, letter)


@dataclass(frozen=True, slots=True)
class ScoreEvent:
    """A ``ScorecardUpdated`` for the score-events topic, keyed by its rep."""

    rep_id: str
    value: bytes

    @classmethod
    def of(cls, update: CardUpdate, cause: Mapping[str, object], now: datetime) -> ScoreEvent:
        card, moved = update.card, update.change
        assert card.rep_id is not None
        value = orjson.dumps(
            {
                **update.body,
                "kpis": update.kpis.events(),
                "overall_change": moved["overall"],
                "perspective_changes": moved["perspectives"],
                "cause": cause,
                "emitted_at": now,
            }
        )
        return cls(card.rep_id, value)


@dataclass(frozen=True, slots=True)
class TeamUpdate:
    """A member's window inputs for its team's worker, or (``inputs`` None) its leaving."""

    team_id: str
    rep_id: str
    as_of: Day
    inputs: Mapping[str, WindowInput] | None = None


TEAM_UPDATES_PER_MESSAGE: Final = 50
"""A team's updates of a batch go in messages of at most this many members: one send and
one read per team, not per member, and well under Kafka's 1 MB per message."""


def team_messages(updates: Sequence[TeamUpdate]) -> list[tuple[str, bytes]]:
    """(team_id, message) for the team topic: each team's updates, in order, grouped."""
    by_team: dict[str, list[dict[str, Any]]] = {}
    for u in updates:
        member: dict[str, Any] = {"rep_id": u.rep_id, "as_of": u.as_of}
        if u.inputs is not None:
            member["inputs"] = _wire(u.inputs)
        by_team.setdefault(u.team_id, []).append(member)
    size = TEAM_UPDATES_PER_MESSAGE
    return [
        (team, orjson.dumps({"team_id": team, "updates": members[i : i + size]}))
        for team, members in by_team.items()
        for i in range(0, len(members), size)
    ]


def team_updates_from_json(value: bytes) -> list[TeamUpdate]:
    """The updates of a ``team_messages`` message, or of a single member's (the shape
    workers sent before updates were grouped, which may still be on the topic); raise
    ``EventError`` naming the field if ``value`` is neither."""
    message = parse_team_message(value)
    return [
        TeamUpdate(
            message.team_id,
            m.rep_id,
            m.as_of,
            None if m.inputs is None else _unwire(m.inputs),
        )
        for m in message.updates
    ]


def read_team_message(message: Message) -> list[TeamUpdate] | Rejected:
    """A team topic's message as its updates, or refused with the reason, whatever its
    bytes."""
    try:
        return team_updates_from_json(message.value or b"")
    except EventError as exc:
        return Rejected.of_error(message, exc)


def inputs_to_json(inputs: Mapping[str, WindowInput]) -> bytes:
    """A member's inputs as the team worker keeps them (``inputs_from_json`` reads them)."""
    return orjson.dumps(_wire(inputs))


def inputs_from_json(value: bytes) -> dict[str, WindowInput]:
    return _unwire(orjson.loads(value))


def _wire(inputs: Mapping[str, WindowInput]) -> dict[str, list[Any]]:
    return {w: input_to_wire(i) for w, i in inputs.items()}


def _unwire(data: Mapping[str, Any]) -> dict[str, WindowInput]:
    return {w: input_from_wire(i) for w, i in data.items()}


def coaching_alert(alert: Alert, raised_at: datetime, version: int | None) -> CoachingAlert:
    """A fired alert as sent; ``version``: the definition version whose rule fired."""
    return CoachingAlert(
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
        raised_at=raised_at,
        definition_version=version,
    )
