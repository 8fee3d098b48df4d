"""Team scorecards in the stream: members' window inputs gathered per team, then scored.

A team's members may live on different workers, so each rep's worker sends its window
inputs to the team topic keyed by team_id; the one worker that owns the team's
partition keeps the latest inputs per member and scores the sum. One writer per team
means no races between workers over a team's scorecard.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from schemas.scorecard_definition import ScorecardDefinition
from scorers.changes import change
from scorers.evaluate import team_scorecards
from scorers.scoring import Scorecard, WindowInput
from sinks.redis_scorecards import RedisScorecardSink

log = structlog.get_logger()


class TeamHandler:
    def __init__(
        self,
        definition: ScorecardDefinition,
        members_table: Any,
        index_table: Any,
        sink: RedisScorecardSink,
    ) -> None:
        self.definition = definition
        self.members = members_table
        """"team|rep" -> the member's latest inputs (JSON)."""
        self.index = index_table
        """team -> sorted JSON list of its members' rep ids."""
        self.sink = sink
        self._previous: dict[tuple[str, str], Scorecard] = {}

    def forget(self) -> None:
        self._previous.clear()

    async def handle(self, value: bytes) -> None:
        update = orjson.loads(value)
        team, rep = update["team_id"], update["rep_id"]
        members: list[str] = orjson.loads(self.index.get(team) or b"[]")
        if "inputs" in update:
            self.members[f"{team}|{rep}"] = orjson.dumps(update["inputs"])
            if rep not in members:
                self.index[team] = orjson.dumps(sorted([*members, rep]))
                members = sorted([*members, rep])
        elif rep in members:
            del self.members[f"{team}|{rep}"]
            members = [m for m in members if m != rep]
            self.index[team] = orjson.dumps(members)
            log.info("team_member_left", team_id=team, rep_id=rep)
        inputs = [_inputs(self.members.get(f"{team}|{m}")) for m in members]
        for card in team_scorecards(self.definition, team, update["as_of"], inputs):
            key = (team, card.window)
            self.sink.add(card, change(self._previous.get(key), card))
            self._previous[key] = card
        await self.sink.flush()


def _inputs(raw: bytes | None) -> dict[str, WindowInput]:
    if raw is None:
        return {}
    return {
        window: WindowInput(totals, days, quota)
        for window, (totals, days, quota) in orjson.loads(raw).items()
    }
