"""The whole scoring over an event log, in memory: the reference the stream is checked against.

Feed raw lines in any order; ask for the result at the end. A line the stream would
dead-letter is recorded with its number, reason code and detail and skipped, never
fatal: the same rules as the worker's (``scorers.intake``, ``scorers.fold``), with no
"too late" (the replay keeps everything). With an explicit as-of day, events after it
are not folded (they would otherwise decide a deal "later" than the day being scored)
and count as out of range. Without one, the as-of day is the latest event day, never
past today (the event clock's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from schemas.events import Event
from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day, day_of, epoch_us, from_date, to_date, window_span
from scorers.changes import ScorecardChange, change
from scorers.evaluate import evaluate, ranked
from scorers.exceptions import RejectedEvent
from scorers.fold import Folder, take
from scorers.intake import Accepted, Message, decode
from scorers.scoring import Scorecard
from scorers.state import RepState


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str
    """The dead-letter reason code (``schemas.dead_letter.Reason``)."""
    detail: str


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
            "rejected": [
                {"line": r.line, "reason": r.reason, "detail": r.detail} for r in self.rejected
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
        self.folder = Folder(definition)
        self.fixed_as_of: Day | None = None if as_of is None else from_date(as_of)
        self.now = now or datetime.now(UTC)
        """The wall clock: events more than ``max_future_days`` after it are rejected."""
        self.stores: dict[str, RepState] = {}
        self.rejected: list[Rejected] = []
        self.duplicates = 0
        self.latest_day: Day | None = None
        self._after_as_of: set[tuple[str, str]] = set()
        self._now_us = epoch_us(self.now)

    def feed(self, line_no: int, raw: bytes | str) -> None:
        """Fold one line of the log; a bad line is recorded, not raised."""
        value = raw.encode() if isinstance(raw, str) else raw
        message = Message(None, value, "replay", 0, line_no)
        decoded = decode(self.folder, message, self._now_us, keyed=False)
        if isinstance(decoded, Accepted):
            self.feed_event(line_no, decoded.event, decoded.day)
        else:
            self.rejected.append(Rejected(line_no, decoded.reason.value, decoded.detail))

    def feed_event(self, line_no: int, event: Event, day: Day | None = None) -> None:
        day = self.folder.day(event) if day is None else day
        if self.fixed_as_of is not None and day > self.fixed_as_of:
            ident = (event.rep_id, event.event_id)
            if ident in self._after_as_of:
                self.duplicates += 1
            else:
                self._after_as_of.add(ident)
            return
        state = self.stores.get(event.rep_id)
        if state is None:
            state = self.stores[event.rep_id] = RepState(event.rep_id)
        try:
            folded = self.folder.fold(state, event, day)
        except RejectedEvent as exc:
            self.rejected.append(Rejected(line_no, exc.code, str(exc)))
            return
        take(state, folded)
        if folded.duplicate:
            self.duplicates += 1
        elif self.latest_day is None or day > self.latest_day:
            self.latest_day = day

    @property
    def as_of(self) -> Day | None:
        if self.fixed_as_of is not None:
            return self.fixed_as_of
        if self.latest_day is None:
            return None
        return min(self.latest_day, day_of(self.now, self.folder.zone))

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
