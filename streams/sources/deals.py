"""A simulated deal's story: opened, moved through stages, decided, sometimes reopened.

The simulator opens deals at each rep's pace; each opening plans the deal's later steps
(stage changes, the outcome, a reopening and its settlement) as ``Step``s, which the
simulator plays when they are due. So at any moment some deals are open: the pipeline
a sales manager looks at. ``unit`` is how long a day of the story lasts: a day in a
backfill, seconds live, so a demo sees deals open, move and close within minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from schemas.events import DealLost, DealOpened, DealReopened, DealStageChanged, DealWon, Event
from streams.sources.org import SimulatedRep, random_id, short_id

OPENING_STAGE: Final = "qualified"
PROPOSAL_SHARE: Final = 0.85  # deals that reach a proposal (a stage change without an amount)
LOST_NEGOTIATION_SHARE: Final = 0.35  # lost deals that got as far as negotiation; won ones all do
LIST_PREMIUM: Final = (1.0, 1.4)
"""A deal opens at a list price this much above what it closes at (the negotiation step
sets the real amount): pipelines are optimistic, as in life."""
LOST_DRAG: Final = 1.6
"""A lost deal stays open this much longer than a won one would: it stalls before anyone
calls it lost (won deals' cycles, the sales_cycle_days KPI, are as the rep's profile says)."""
REOPEN_SHARE: Final = 0.08  # won deals that get reopened (a CRM sending state, not increments)
REWIN_SHARE: Final = 0.75  # reopened deals that are won again (else lost)
DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    """A later step of a deal's story, built when it is due."""

    due: datetime
    make: Callable[[datetime], Event]


class DealStories:
    """Opens deals and plans their stories, from a random source of their own: changing how
    deals go changes no other activity of a seed's history."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def open(self, rep: SimulatedRep, at: datetime, unit: timedelta) -> tuple[Event, list[Step]]:
        """A deal opened now, and the steps of its story still to come."""
        rng = self._rng
        deal_id = short_id(rng, "deal")
        cycle = rep.sales_cycle_days * rng.lognormvariate(0, 0.4)
        won = rng.random() < rep.win_rate
        amount = round(rep.deal_size * rng.lognormvariate(0, 0.5), 2)
        listed = round(amount * rng.uniform(*LIST_PREMIUM), -2)
        currency = "EUR" if rng.random() < rep.team.eur_share else "USD"
        planned = rep.sales_cycle_days * rng.uniform(0.7, 1.1)
        base = {"rep_id": rep.rep_id, "team_id": rep.team.team_id, "deal_id": deal_id}

        def later(days: float) -> datetime:
            # A backfill keeps whole days (the working hour) and moves weekends to Monday.
            if unit < DAY:
                return at + unit * days
            due = at + DAY * max(1, round(days))
            return due + DAY * max(0, 7 - due.weekday()) if due.weekday() >= 5 else due

        def event_at(t: datetime) -> dict[str, object]:
            return {**base, "event_id": random_id(rng), "occurred_at": t.astimezone(rep.team.tz)}

        close_at = later(cycle if won else cycle * LOST_DRAG)
        opened = DealOpened.model_validate(
            {
                **event_at(at),
                "amount": listed,
                "currency": currency,
                "stage": OPENING_STAGE,
                "expected_close": _day_of(later(planned)),
            }
        )
        steps: list[Step] = []
        if rng.random() < PROPOSAL_SHARE:
            steps.append(
                Step(
                    later(0.3 * cycle),
                    lambda t: DealStageChanged.model_validate({**event_at(t), "stage": "proposal"}),
                )
            )
        if won or rng.random() < LOST_NEGOTIATION_SHARE:
            # The real amount and close date are known once the deal is in negotiation.
            update = {"stage": "negotiation", "amount": amount, "currency": currency}
            update["expected_close"] = _day_of(close_at)
            steps.append(
                Step(
                    later(0.7 * cycle),
                    lambda t: DealStageChanged.model_validate({**event_at(t), **update}),
                )
            )
        closing = {**base, "opened_at": at}

        def outcome(t: datetime, won: bool, amount: float) -> Event:
            body = {**closing, "event_id": random_id(rng), "occurred_at": t.astimezone(rep.team.tz)}
            if won:
                return DealWon.model_validate({**body, "amount": amount, "currency": currency})
            return DealLost.model_validate(body)

        steps.append(Step(close_at, lambda t: outcome(t, won, amount)))
        if won and rng.random() < REOPEN_SHARE:
            reopen_at = close_at + unit * rng.uniform(1, 10)
            settle_at = reopen_at + unit * rng.uniform(2, 14)
            rewon = rng.random() < REWIN_SHARE
            new_amount = round(amount * rng.uniform(0.7, 1.1), 2)
            steps.append(Step(reopen_at, lambda t: DealReopened.model_validate(event_at(t))))
            steps.append(Step(settle_at, lambda t: outcome(t, rewon, new_amount)))
        return opened, steps


def _day_of(at: datetime) -> date:
    return at.date()
