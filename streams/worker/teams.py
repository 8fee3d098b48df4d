"""Team scorecards in the stream: members' window inputs gathered per team, then scored.

A team's members may live on different workers, so each rep's worker sends its window
inputs to the team topic keyed by team_id; the one worker that owns the team's
partition keeps the latest inputs per member and scores the sum. One writer per team
means no races between workers over a team's scorecard.

A busy team gets an update per member event; scoring it each time would cost a
read of every member's inputs. Updates only mark the team, and ``score_marked`` (run
by a timer) scores each marked team once from inputs cached in memory.

The marks live in memory, and the team topic is acknowledged as it is read, so a worker
killed between an update and the next ``score_marked`` would lose them and leave the team's
card stale until a member's next change. Instead, after every start and rebalance, each team
the worker owns is scored once from the tables, as of the latest day it was sent
(``team-as-of``): whatever was lost is written then.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day
from scorers.effects import (
    CardKey,
    TeamUpdate,
    inputs_from_json,
    inputs_to_json,
    read_team_message,
)
from scorers.intake import Message, Rejected
from scorers.scoring import Scorecard
from scorers.team_plan import Inputs, plan_teams
from sinks.redis_scorecards import RedisScorecardSink

log = structlog.get_logger()


class TeamHandler:
    def __init__(
        self,
        definition: ScorecardDefinition,
        version: int | None,
        members_table: Any,
        index_table: Any,
        as_of_table: Any,
        sink: RedisScorecardSink,
    ) -> None:
        self.definition = definition
        self.version = version
        self.members = members_table
        """"team|rep" -> the member's latest inputs (JSON)."""
        self.index = index_table
        """team -> sorted JSON list of its members' rep ids."""
        self.as_of = as_of_table
        """team -> the latest as-of day an update of the team carried (JSON)."""
        self.sink = sink
        self._previous: dict[CardKey, Scorecard] = {}
        self._cache: dict[str, dict[str, Inputs]] = {}
        self._marked: dict[str, Day] = {}
        self._rescan = True
        """Score every team the worker owns at the next ``score_marked``: a start or a
        rebalance may have lost marks."""

    def use(self, definition: ScorecardDefinition, version: int) -> None:
        """Score teams with a new definition version from now on. Each member's worker scores
        the member again and sends new inputs, which mark the team; the teams written here
        are marked now too, since their members' workers may have switched first."""
        self.definition, self.version = definition, version
        for (team, _), card in self._previous.items():
            self._marked[team] = max(card.as_of, self._marked.get(team, card.as_of))

    def forget(self) -> None:
        self._previous.clear()
        self._cache.clear()
        self._rescan = True

    def rewrite(self) -> None:
        """Redis lost the team cards: write each again when its team is next scored (every
        team is, as its members' cards are all written again)."""
        self._previous.clear()

    def handle(self, message: Message) -> Rejected | None:
        """Record the members' inputs (or their leaving) and mark the team for scoring; a
        message that is not a team message is refused, whatever its bytes."""
        updates = read_team_message(message)
        if isinstance(updates, Rejected):
            return updates
        for update in updates:
            self._take(update)
        team, as_of = updates[0].team_id, max(u.as_of for u in updates)  # a message: one team
        self._marked[team] = max(as_of, self._marked.get(team, as_of))
        latest = self.as_of.get(team)  # once a message, not once a member: a table read
        if latest is None or orjson.loads(latest) < as_of:
            self.as_of[team] = orjson.dumps(as_of)
        return None

    def _take(self, update: TeamUpdate) -> None:
        team, rep = update.team_id, update.rep_id
        members = self._members(team)
        if update.inputs is not None:
            self.members[f"{team}|{rep}"] = inputs_to_json(update.inputs)
            if rep not in members:
                self.index[team] = orjson.dumps(sorted([*members, rep]))
            members[rep] = update.inputs
        elif rep in members:
            del self.members[f"{team}|{rep}"]
            del members[rep]
            self.index[team] = orjson.dumps(sorted(members))
            log.info("team_member_left", team_id=team, rep_id=rep)

    async def score_marked(self, updated_at: str) -> int:
        """Score every marked team once and write the cards that changed, in one pipeline;
        returns the teams scored."""
        if self._rescan:
            self._rescan = False
            for team, latest in self.as_of.items():
                self._marked.setdefault(team, orjson.loads(latest))
        marked, self._marked = self._marked, {}
        members = {team: self._members(team) for team in marked}
        updates = plan_teams(self.definition, self.version, marked, members, self._previous)
        await self.sink.write(updates, updated_at)
        for update in updates:
            assert update.card.team_id is not None
            self._previous[(update.card.team_id, update.card.window)] = update.card
        return len(marked)

    def _members(self, team: str) -> dict[str, Inputs]:
        """The team's members' inputs: memory, or the tables after a start or rebalance."""
        members = self._cache.get(team)
        if members is None:
            reps: list[str] = orjson.loads(self.index.get(team) or b"[]")
            members = {}
            for rep in reps:
                raw = self.members.get(f"{team}|{rep}")
                if raw is not None:
                    members[rep] = inputs_from_json(raw)
            self._cache[team] = members
        return members
