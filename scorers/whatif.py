"""What a new scorecard definition would change, before it is published: both definitions
over the same event log on the replay engine, rep by rep.

For each rep: the overall and the rank under each definition, the change, and the
perspectives that moved; the biggest movers up and down (by places, then points); and what
changed between the definitions. The log is folded once when both definitions fold alike
(``scorers.fold.fold_key``: zone, currency, FX rates and ``max_future_days``), since weights,
targets, KPIs, windows and rules only score the folded state; otherwise it is replayed under
each. Both are scored as of the same day: ``as_of``, else the first replay's (its latest
event day).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day, to_date
from scorers.definition_changes import DefinitionChange, changes
from scorers.evaluate import evaluate, rank_key
from scorers.fold import fold_key
from scorers.replay import Replay
from scorers.scoring import Scorecard

MOVED = 1e-9
"""A score that changed by less than this did not move (sums in another order differ so)."""


@dataclass(frozen=True, slots=True)
class RepShift:
    """One rep under the old and the new definition."""

    rep_id: str
    team_id: str | None
    old: float | None
    new: float | None
    old_rank: int | None
    """1 is the best; None when the rep has no overall score."""
    new_rank: int | None
    perspectives: dict[str, tuple[float | None, float | None]]
    """The perspectives that moved: name -> (old, new)."""

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    def perspective_changes(self) -> dict[str, float | None]:
        """The perspectives that moved: name -> new minus old (None: one side has no score)."""
        return {
            name: None if old is None or new is None else new - old
            for name, (old, new) in self.perspectives.items()
        }

    @property
    def places(self) -> int | None:
        """Places moved up (negative: down)."""
        if self.old_rank is None or self.new_rank is None:
            return None
        return self.old_rank - self.new_rank

    def to_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "team_id": self.team_id,
            "old": {"overall": self.old, "rank": self.old_rank},
            "new": {"overall": self.new, "rank": self.new_rank},
            "change": self.change,
            "places": self.places,
            "perspectives_moved": {
                name: {"old": old, "new": new} for name, (old, new) in self.perspectives.items()
            },
        }


@dataclass(frozen=True, slots=True)
class WhatIf:
    window: str
    as_of: Day | None
    reps: list[RepShift]
    """In the new ranking's order; reps without a score last, by id."""
    changes: list[DefinitionChange]
    folds: int
    """How many times the log was folded: 1, or 2 when the definitions fold differently."""
    rejected: tuple[int, int]
    """Lines each definition's replay rejected."""

    def movers(self, *, up: bool, count: int = 5) -> list[RepShift]:
        """The reps that moved most places up (or down); ties by points, then rep id."""
        sign = 1 if up else -1
        moved = [r for r in self.reps if r.places is not None and sign * r.places > 0]
        moved.sort(key=lambda r: (-sign * (r.places or 0), -sign * (r.change or 0.0), r.rep_id))
        return moved[:count]

    def to_dict(self, count: int = 5) -> dict[str, Any]:
        return {
            "window": self.window,
            "as_of": None if self.as_of is None else to_date(self.as_of).isoformat(),
            "changes": [c.to_dict() for c in self.changes],
            "reps": [r.to_dict() for r in self.reps],
            "movers_up": [r.rep_id for r in self.movers(up=True, count=count)],
            "movers_down": [r.rep_id for r in self.movers(up=False, count=count)],
            "folds": self.folds,
            "rejected": {"old": self.rejected[0], "new": self.rejected[1]},
        }


def what_if(
    old: ScorecardDefinition,
    new: ScorecardDefinition,
    lines: Iterable[bytes],
    *,
    window: str,
    as_of: date | None = None,
    now: datetime | None = None,
) -> WhatIf:
    """Replay ``lines`` (a JSONL event log) and compare the two definitions in ``window``."""
    engines = [Replay(old, as_of, now)]
    if fold_key(new) != fold_key(old):
        engines.append(Replay(new, as_of, now))
    for line_no, line in enumerate(lines, start=1):
        if line.strip():
            for engine in engines:
                engine.feed(line_no, line)
    day = engines[0].as_of
    rejected = (len(engines[0].rejected), len(engines[-1].rejected))
    if day is None:
        return WhatIf(window, None, [], changes(old, new), len(engines), rejected)
    before = evaluate(old, engines[0].stores.values(), day, [window]).reps
    after = evaluate(new, engines[-1].stores.values(), day, [window]).reps
    return WhatIf(window, day, compare(before, after), changes(old, new), len(engines), rejected)


def compare(before: Sequence[Scorecard], after: Sequence[Scorecard]) -> list[RepShift]:
    """Each rep's cards of one window under two definitions, in the new ranking's order."""
    old_ranks, new_ranks = _ranks(before), _ranks(after)
    old_cards = {c.rep_id: c for c in before if c.rep_id is not None}
    new_cards = {c.rep_id: c for c in after if c.rep_id is not None}
    shifts = []
    for rep in old_cards.keys() | new_cards.keys():
        was, now = old_cards.get(rep), new_cards.get(rep)
        shown = now or was
        assert shown is not None
        shifts.append(
            RepShift(
                rep_id=rep,
                team_id=shown.team_id,
                old=None if was is None else was.overall,
                new=None if now is None else now.overall,
                old_rank=old_ranks.get(rep),
                new_rank=new_ranks.get(rep),
                perspectives=_moved(was, now),
            )
        )
    unranked = len(shifts) + 1
    return sorted(shifts, key=lambda s: (s.new_rank or unranked, s.rep_id))


def _ranks(cards: Sequence[Scorecard]) -> dict[str, int]:
    """Rep -> place in the ranking every leaderboard uses (reps without a score: none)."""
    scored = [c for c in cards if c.overall is not None and c.rep_id is not None]
    scored.sort(key=lambda c: rank_key(c.overall, c.overall_uncapped, c.rep_id or ""))
    return {c.rep_id or "": place for place, c in enumerate(scored, start=1)}


def _moved(
    was: Scorecard | None, now: Scorecard | None
) -> dict[str, tuple[float | None, float | None]]:
    old = {} if was is None else was.perspectives
    new = {} if now is None else now.perspectives
    moved = {}
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if (a is None) != (b is None) or (a is not None and b is not None and abs(b - a) > MOVED):
            moved[name] = (a, b)
    return moved
