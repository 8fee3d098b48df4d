"""A card's KPIs as JSON fragments, rendered once per KPI score and reused while it holds.

A live batch writes a rep's cards again for an event that moved one or two of their
sixteen KPIs, and each card is published three times over (its body and its change in
Redis, its score event on Kafka), each with a dict per KPI. Building and formatting the
KPIs that did not move, again and again, was most of what a card cost the worker. So a
card keeps its KPIs' JSON (``Scorecard.rendered``), and the next card of the same rep and
window takes the JSON of every KPI whose score is equal. The fragments are ``orjson``'s
own bytes for the very dicts they stand for, so a published card is the same JSON as if
each dict had been dumped in place (tests hold them to it); a KPI equal to the last but for
the sign of a zero keeps the last one's ``0.0``, the same number.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from scorers.changes import KpiChange, first_change, kpi_change
from scorers.scoring import KpiScore, Scorecard

Fragment = orjson.Fragment


def kpi_event(k: KpiScore, moved: KpiChange) -> dict[str, object]:
    """A KPI as a score event publishes it: the card's and its move."""
    return {
        **k.to_dict(),
        "value_change": moved["value"],
        "contribution_change": moved["contribution"],
    }


class KpiJson:
    """One KPI score's JSON: as a card publishes it, and its change and score event entry
    on a card where it did not move (the common case, so made with it)."""

    __slots__ = ("body", "score", "still_change", "still_entry")

    def __init__(self, score: KpiScore) -> None:
        self.score = score
        self.body = _fragment(score.to_dict())
        still = kpi_change(score, score)
        self.still_change = _fragment(still)
        self.still_entry = _event(score, still)


@dataclass(slots=True)
class Rendered:
    """What a card's publishing made that the next card of its rep and window may reuse."""

    kpis: dict[str, KpiJson]
    metrics: dict[str, float | None] | None = None
    """Its leaderboard scores (``sinks.redis_keys.card_metrics``), once a sink asked."""


@dataclass(frozen=True, slots=True)
class CardJson:
    """A card's KPIs rendered against the card it replaces."""

    kpis: dict[str, KpiJson]
    moved: dict[str, KpiChange]
    """The KPIs whose score is not the replaced card's, and their moves."""

    def bodies(self) -> dict[str, Fragment]:
        return {name: k.body for name, k in self.kpis.items()}

    def changes(self) -> dict[str, Fragment]:
        out = {name: k.still_change for name, k in self.kpis.items()}
        for name, move in self.moved.items():
            out[name] = _fragment(move)
        return out

    def events(self) -> dict[str, Fragment]:
        """The score event's KPIs (only a card with a score event needs them)."""
        out = {name: k.still_entry for name, k in self.kpis.items()}
        for name, move in self.moved.items():
            out[name] = _event(self.kpis[name].score, move)
        return out


def render(card: Scorecard, previous: Scorecard | None) -> CardJson:
    """``card``'s KPIs as JSON, taking those of ``previous`` that did not move; ``card``
    keeps its own for the card that will replace it."""
    reused = previous.rendered if previous is not None else None
    known: dict[str, KpiJson] = reused.kpis if reused is not None else {}
    before = previous.kpis if previous is not None else None
    kpis: dict[str, KpiJson] = {}
    moved: dict[str, KpiChange] = {}
    for name, score in card.kpis.items():
        last = known.get(name)
        if last is None or last.score != score:
            last = KpiJson(score)
            moved[name] = (
                first_change(score) if before is None else kpi_change(before.get(name), score)
            )
        kpis[name] = last
    card.rendered = Rendered(kpis)
    return CardJson(kpis, moved)


def _event(score: KpiScore, moved: KpiChange) -> Fragment:
    return _fragment(kpi_event(score, moved))


def _fragment(data: object) -> Fragment:
    """``data``'s JSON, kept as a str: the bytes ``orjson.dumps`` returns keep its ~2 kB
    buffer whatever their length, and a worker keeps three fragments a KPI of every card
    (that was 340 MB for 200 reps)."""
    return Fragment(orjson.dumps(data).decode())
