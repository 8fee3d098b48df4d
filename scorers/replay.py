"""The whole scoring over an event log, in memory: the reference the stream is checked against.

Feed raw lines in any order; ask for the result at the end. A malformed line is
recorded with its number and reason and skipped, never fatal. With an explicit
as-of day, events after it are not folded (they would otherwise decide a deal
"later" than the day being scored) and count as out of range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from schemas.events import Event, parse_event
from schemas.exceptions import EventError
from schemas.scorecard_definition import ScorecardDefinition
from scorers import counters as c
from scorers.calendar import Day, from_date, to_date, window_span
from scorers.changes import ScorecardChange, change
from scorers.evaluate import evaluate, ranked
from scorers.exceptions import RejectedEvent
from scorers.fold import Folder, Outcome
from scorers.scoring import Scorecard
from scorers.state import MemoryRepStore


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReplayResult:
    as_of: Day | None
    scorecards: list[Scorecard]
    teams: list[Scorecard]
    rejected: list[Rejected]
    duplicates: int
    out_of_range: int
    changes: dict[tuple[str | None, str | None, str], ScorecardChange] = field(default_factory=dict)
    """Change of each scorecard since the day before, keyed by (rep_id, team_id, window)."""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "as_of": None if self.as_of is None else to_date(self.as_of).isoformat(),
            "scorecards": [s.to_dict() for s in self.scorecards],
            "teams": [s.to_dict() for s in self.teams],
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "duplicates": self.duplicates,
            "out_of_range": self.out_of_range,
        }


class Replay:
    """Folds a log's lines into per-rep memory state; ``result()`` scores it."""

    def __init__(self, definition: ScorecardDefinition, as_of: date | None = None) -> None:
        self.definition = definition
        self.folder = Folder(definition)
        self.fixed_as_of: Day | None = None if as_of is None else from_date(as_of)
        self.stores: dict[str, MemoryRepStore] = {}
        self.rejected: list[Rejected] = []
        self.duplicates = 0
        self.latest_day: Day | None = None
        self._after_as_of: set[tuple[str, str]] = set()

    def feed(self, line_no: int, raw: bytes | str) -> None:
        """Fold one line of the log; a bad line is recorded, not raised."""
        try:
            event = parse_event(raw)
        except EventError as exc:
            self.rejected.append(Rejected(line_no, str(exc)))
            return
        self.feed_event(line_no, event)

    def feed_event(self, line_no: int, event: Event) -> None:
        day = self.folder.day(event)
        if self.fixed_as_of is not None and day > self.fixed_as_of:
            ident = (event.rep_id, event.event_id)
            if ident in self._after_as_of:
                self.duplicates += 1
            else:
                self._after_as_of.add(ident)
            return
        store = self.stores.get(event.rep_id)
        if store is None:
            store = self.stores[event.rep_id] = MemoryRepStore(event.rep_id)
        try:
            result = self.folder.fold(store, event, day=day)
        except RejectedEvent as exc:
            self.rejected.append(Rejected(line_no, str(exc)))
            return
        if result.outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        elif self.latest_day is None or day > self.latest_day:
            self.latest_day = day

    @property
    def as_of(self) -> Day | None:
        return self.fixed_as_of if self.fixed_as_of is not None else self.latest_day

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
            bucket[c.EVENTS]
            for store in self.stores.values()
            for day, bucket in store.buckets.items()
            if day < first or day > as_of
        )
        return outside + len(self._after_as_of)
