"""The whole scoring over an event log, in memory: the reference the stream is checked against.

Feed raw lines in any order; ask for the result at the end. Lines are decoded as they come
(``scorers.intake``) and folded in chunks by the worker's own ``plan_fold``
(``scorers.planner``), so the stream and the replay fold by one code. A line the stream
would dead-letter is recorded with its number, reason code and detail and skipped, never
fatal; there is no "too late" (the replay keeps everything). With an explicit as-of day,
events after it are not folded (they would otherwise decide a deal "later" than the day
being scored) and count as out of range. Without one, the as-of day is the latest event
day, never past today (the event clock's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day, day_of, epoch_us, from_date, to_date, window_span
from scorers.changes import ScorecardChange, change
from scorers.evaluate import evaluate, ranked
from scorers.intake import Accepted, Message, Rejected, decode
from scorers.planner import plan_fold
from scorers.rep_scoring import Layout
from scorers.scoring import Scorecard
from scorers.state import RepState

CHUNK: Final = 5_000
"""Lines decoded before they are folded: each fold copies the states it touches, so
large chunks, but bounded memory for the decoded events."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    as_of: Day | None
    scorecards: list[Scorecard]
    teams: list[Scorecard]
    rejected: list[Rejected]
    """In line order; a line's number is its message's offset."""
    duplicates: int
    out_of_range: int
    changes: dict[tuple[str | None, str | None, str], ScorecardChange] = field(default_factory=dict)
    """Change of each scorecard since the day before, keyed by (rep_id, team_id, window)."""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "as_of": None if self.as_of is None else to_date(self.as_of).isoformat(),
            "scorecards": [s.to_dict() for s in self.scorecards],
            "teams": [s.to_dict() for s in self.teams],
            "rejected": [
                {"line": r.message.offset, "reason": r.reason.value, "detail": r.detail}
                for r in self.rejected
            ],
            "duplicates": self.duplicates,
            "out_of_range": self.out_of_range,
        }


class Replay:
    """Folds a log's lines into per-rep memory state; ``result()`` scores it."""

    def __init__(
        self,
        definition: ScorecardDefinition,
        as_of: date | None = None,
        now: datetime | None = None,
    ) -> None:
        self.definition = definition
        self.layout = Layout.of(definition)
        self.fixed_as_of: Day | None = None if as_of is None else from_date(as_of)
        self.now = now or datetime.now(UTC)
        """The wall clock: events more than ``max_future_days`` after it are rejected."""
        self._stores: dict[str, RepState] = {}
        self._rejected: list[Rejected] = []
        self._duplicates = 0
        self._latest_day: Day | None = None
        self._after_as_of: set[tuple[str, str]] = set()
        self._now_us = epoch_us(self.now)
        self._pending: list[Accepted] = []

    def feed(self, line_no: int, raw: bytes | str) -> None:
        """Take one line of the log; a bad line is recorded, not raised."""
        value = raw.encode() if isinstance(raw, str) else raw
        message = Message(None, value, "replay", 0, line_no)
        decoded = decode(self.layout.folder, message, self._now_us, keyed=False)
        if isinstance(decoded, Rejected):
            self._rejected.append(decoded)
        elif self.fixed_as_of is not None and decoded.day > self.fixed_as_of:
            ident = (decoded.event.rep_id, decoded.event.event_id)
            if ident in self._after_as_of:
                self._duplicates += 1
            else:
                self._after_as_of.add(ident)
        else:
            self._pending.append(decoded)
            if len(self._pending) >= CHUNK:
                self._fold()

    def _fold(self) -> None:
        if not self._pending:
            return
        plan = plan_fold(self.layout, self._pending, self._stores, self.now)
        self._pending = []
        self._stores.update(plan.states)
        self._rejected.extend(d.rejected for d in plan.dead_letters)
        self._duplicates += plan.duplicates
        latest = plan.latest_day
        if latest is not None and (self._latest_day is None or latest > self._latest_day):
            self._latest_day = latest

    @property
    def stores(self) -> dict[str, RepState]:
        """Every rep's state with every line fed so far."""
        self._fold()
        return self._stores

    @property
    def rejected(self) -> list[Rejected]:
        self._fold()
        return sorted(self._rejected, key=lambda r: r.message.offset)

    @property
    def duplicates(self) -> int:
        self._fold()
        return self._duplicates

    @property
    def as_of(self) -> Day | None:
        if self.fixed_as_of is not None:
            return self.fixed_as_of
        self._fold()
        if self._latest_day is None:
            return None
        return min(self._latest_day, day_of(self.now, self.layout.folder.zone))

    def result(self, windows: list[str] | None = None) -> ReplayResult:
        windows = windows or list(self.definition.windows)
        as_of = self.as_of
        if as_of is None:
            return ReplayResult(None, [], [], self.rejected, self.duplicates, 0)
        now = evaluate(self.definition, self.stores.values(), as_of, windows)
        before = evaluate(self.definition, self.stores.values(), as_of - 1, windows)
        previous = {(s.rep_id, s.team_id, s.window): s for s in before.reps + before.teams}
        changes = {
            key: change(previous.get(key), s)
            for s in now.reps + now.teams
            for key in [(s.rep_id, s.team_id, s.window)]
        }
        return ReplayResult(
            as_of=as_of,
            scorecards=ranked(now.reps, windows),
            teams=ranked(now.teams, windows),
            rejected=self.rejected,
            duplicates=self.duplicates,
            out_of_range=self._out_of_range(as_of, windows),
            changes=changes,
        )

    def _out_of_range(self, as_of: Day, windows: list[str]) -> int:
        """Unique valid events on days none of ``windows`` holds as of ``as_of``."""
        first = min(window_span(w, as_of).first for w in windows)
        outside = sum(
            bucket.events
            for state in self.stores.values()
            for day, bucket in state.buckets.items()
            if day < first or day > as_of
        )
        return outside + len(self._after_as_of)
