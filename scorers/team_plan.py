"""Team scorecards planned: the cards of the marked teams that moved since last written.

A team's card is scored over the sum of its members' window inputs (``evaluate``); the
worker that owns the team's partition gathers them from the team topic
(``streams.worker.teams``) and applies this plan as it applies a batch's.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.scorecard_definition import ScorecardDefinition
from scorers.calendar import Day
from scorers.effects import CardKey, CardUpdate
from scorers.evaluate import team_scorecards
from scorers.scoring import Scorecard, WindowInput

Inputs = Mapping[str, WindowInput]
"""A member's window -> its input."""


def plan_teams(
    definition: ScorecardDefinition,
    version: int | None,
    marked: Mapping[str, Day],
    members: Mapping[str, Mapping[str, Inputs]],
    previous: Mapping[CardKey, Scorecard],
) -> tuple[CardUpdate, ...]:
    """``marked``: team -> the as-of day to score it for; ``members``: team -> rep -> its
    inputs; ``previous``: the team cards last written, by (team, window)."""
    windows = set(definition.windows)
    updates = []
    for team, as_of in marked.items():
        team_members = members.get(team, {})
        # Inputs a member sent before a version that dropped a window hold that window.
        inputs = [
            {w: i for w, i in team_members[rep].items() if w in windows}
            for rep in sorted(team_members)
        ]
        for card in team_scorecards(definition, team, as_of, inputs, version):
            before = previous.get((team, card.window))
            if card != before:
                updates.append(CardUpdate.of(card, before))
    return tuple(updates)
