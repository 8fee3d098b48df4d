"""A simulated sales org that plays CRM events: a backfilled history or a live stream.

Nothing here touches Kafka or files; it only yields ``schemas.events`` models, so the
same stream feeds Kafka, a JSONL file or a test. Every random choice comes from
``random.Random`` instances seeded from the config's seed (never the global
``random``), so a seed and an end time fix the output exactly.

The org is meant to look like a real one to the scorer: teams in different time
zones, reps of different skill, a rep who went quiet a week ago, deals that open, move
through stages and are won or lost (some reopened and won again: their stories are in
``streams.sources.deals``), an open pipeline at every moment, and the delivery faults
CRM webhooks have in practice — redelivered duplicates (same id, same content) and
events that arrive late.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TypeVar

import structlog

from schemas.events import (
    AccountChurned,
    AccountRenewed,
    CallLogged,
    CallOutcome,
    CourseCompleted,
    DealOpened,
    DealStageChanged,
    Event,
    LeadConverted,
    LeadDisqualified,
    NpsResponse,
    RepUpserted,
)
from streams.sources.deals import DealStories, Step
from streams.sources.delivery import Clock, Delivery, Sleep, paced
from streams.sources.org import (
    ACTIVITIES,
    Activity,
    SimulatedRep,
    SimulationConfig,
    build_org,
    random_id,
    short_id,
)

log = structlog.get_logger(__name__)


T = TypeVar("T")

COURSES: Final = (
    ("negotiation-101", 4.0),
    ("discovery-calls", 2.5),
    ("objection-handling", 3.0),
    ("crm-hygiene", 1.0),
    ("product-deep-dive", 6.0),
    ("forecasting-basics", 2.0),
)
NPS_COMMENTS: Final = {
    "detractor": ("Slow to answer.", "Pushy on the renewal.", "Promised features late."),
    "passive": ("Fine overall.", "Onboarding took a while."),
    "promoter": ("Great partner!", "Always responsive.", "Knows our business."),
}
WEEKEND_ACTIVITY: Final = 0.05  # share of a weekday's activity that happens on a weekend
WORKDAY_START: Final = time(8)
WORKDAY_SECONDS: Final = 10 * 3600
MAX_UTC_OFFSET: Final = timedelta(hours=14)
WARM_UP_DAYS: Final = 120
"""A backfill opens deals this long before its start (keeping none of their events before
it), so deals close from its first day on at the pace they open: every deal cycle is
shorter but for a slow rep's rare outlier."""
LIVE_DEAL_DAY: Final = timedelta(seconds=15)
"""A day of a deal's story, live: deals open, move and close within minutes."""


class Simulator:
    """Plays the org's CRM events; one instance is one deterministic run."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.reps = build_org(config)
        self._rng = random.Random(f"{config.seed}:activity")
        self._delivery_rng = random.Random(f"{config.seed}:delivery")
        self._deal_rng = random.Random(f"{config.seed}:deals")
        self._deals = DealStories(self._deal_rng)

    @property
    def quiet_rep(self) -> SimulatedRep:
        return next(rep for rep in self.reps if rep.quiet)

    # -- modes -------------------------------------------------------------------

    def backfill(self, days: int, end: datetime) -> Iterator[Event]:
        """History of the ``days`` days before ``end``: the rep directory, then activity.

        Events come in event-time order except the deliberate late and duplicate
        deliveries. The quiet rep has no events in the last ``quiet_days`` days.
        """
        if end.tzinfo is None:
            raise ValueError("end must be tz-aware, e.g. 2026-01-31T00:00:00+00:00")
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        start = end - timedelta(days=days)
        log.info("simulator.backfill", seed=self.config.seed, days=days, end=end.isoformat())
        yield from self._directory(start)
        delivery = Delivery(
            self._delivery_rng,
            self.config.duplicate_share,
            self.config.late_share,
            lateness=(timedelta(minutes=10), timedelta(days=2)),
        )
        for event in self._history(start, end):
            yield from delivery.offer(event)
        yield from delivery.drain()

    def live(self, rate: float, clock: Clock, sleep: Sleep) -> Iterator[Event]:
        """An endless stream at ``rate`` events/s whose event time is ``clock()``.

        A deal's later steps (stages, outcome, reopen, re-win) come seconds to minutes
        rather than days later so a demo shows them; the quiet rep stays silent throughout.
        """
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        log.info("simulator.live", seed=self.config.seed, rate=rate)
        delivery = Delivery(
            self._delivery_rng,
            self.config.duplicate_share,
            self.config.late_share,
            lateness=(timedelta(seconds=5), timedelta(minutes=5)),
        )

        def stream() -> Iterator[Event]:
            yield from self._directory(clock())
            for event in self._live_activity(clock):
                yield from delivery.offer(event)

        return paced(stream(), rate, clock, sleep)

    # -- generation ----------------------------------------------------------------

    def _directory(self, at: datetime) -> Iterator[Event]:
        for rep in self.reps:
            yield RepUpserted(
                event_id=self._new_id(),
                occurred_at=at.astimezone(rep.team.tz),
                rep_id=rep.rep_id,
                team_id=rep.team.team_id,
                name=rep.name,
                monthly_quota=rep.monthly_quota,
                crm_owner_ids=dict(rep.crm_owner_ids),
                # example.com is reserved for examples: no real mailbox is ever named.
                email=f"{rep.rep_id}@example.com",
                manager_email=f"lead-{rep.team.team_id}@example.com",
            )

    def _history(self, start: datetime, end: datetime) -> Iterator[Event]:
        """Day by day, every rep's activity, merged into event-time order through a heap.

        A day's deals schedule their later steps days ahead, so events wait in the heap
        until no later day can produce anything earlier (the watermark). A deal opened
        before ``start`` (in the warm-up) is known from its first step that carries an
        amount, or by its outcome alone (a deal_won with no deal_opened counts as ever).
        """
        pending: list[tuple[datetime, int, Event]] = []
        seq = itertools.count()
        quiet_from = end - timedelta(days=self.config.quiet_days)
        unknown: set[str] = set()  # deals opened before start: their amount is unknown

        def keep(rep: SimulatedRep, event: Event) -> bool:
            at = event.occurred_at
            if isinstance(event, DealOpened) and at < start:
                unknown.add(event.deal_id)
            if isinstance(event, DealStageChanged) and event.deal_id in unknown:
                if event.amount is None:
                    return False
                unknown.discard(event.deal_id)
            return start <= at < end and not (rep.quiet and at >= quiet_from)

        first_day = start.astimezone(UTC).date() - timedelta(days=1)
        last_day = end.astimezone(UTC).date() + timedelta(days=1)
        for day in _days(first_day - timedelta(days=WARM_UP_DAYS), last_day):
            warming_up = day < first_day
            for rep in self.reps:
                for event in self._rep_day(rep, day, deals_only=warming_up):
                    if keep(rep, event):
                        heapq.heappush(pending, (event.occurred_at, next(seq), event))
            watermark = datetime.combine(day + timedelta(days=1), time(), UTC) - MAX_UTC_OFFSET
            while pending and pending[0][0] < watermark:
                yield heapq.heappop(pending)[2]
        while pending:
            yield heapq.heappop(pending)[2]

    def _rep_day(self, rep: SimulatedRep, day: date, deals_only: bool = False) -> Iterator[Event]:
        """One rep's events on one local working day, later steps of its deals included
        (any order)."""
        scale = WEEKEND_ACTIVITY if day.weekday() >= 5 else 1.0
        for activity in ("deal",) if deals_only else ACTIVITIES:
            rng = self._deal_rng if activity == "deal" else self._rng
            for _ in range(_poisson(rng, rep.daily_rate(activity) * scale)):
                at = self._work_time(rng, rep, day)
                event, steps = self._act(rep, activity, at, unit=timedelta(days=1))
                yield event
                for step in steps:
                    yield step.make(_at_second(step.due))

    def _live_activity(self, clock: Clock) -> Iterator[Event]:
        active = [rep for rep in self.reps if not rep.quiet] or list(self.reps)
        choices = [(rep, activity) for rep in active for activity in ACTIVITIES]
        weights = list(itertools.accumulate(rep.daily_rate(act) for rep, act in choices))
        steps: list[tuple[datetime, int, Step]] = []
        seq = itertools.count()
        while True:
            now = clock()
            if steps and steps[0][0] <= now:
                yield heapq.heappop(steps)[2].make(now)
                continue
            rep, activity = self._rng.choices(choices, cum_weights=weights)[0]
            at = now.astimezone(rep.team.tz)
            event, new = self._act(rep, activity, at, unit=LIVE_DEAL_DAY)
            for step in new:
                heapq.heappush(steps, (step.due, next(seq), step))
            yield event

    def _work_time(self, rng: random.Random, rep: SimulatedRep, day: date) -> datetime:
        start = datetime.combine(day, WORKDAY_START, rep.team.tz)
        return start + timedelta(seconds=rng.randrange(WORKDAY_SECONDS))

    def _act(
        self, rep: SimulatedRep, activity: Activity, at: datetime, unit: timedelta
    ) -> tuple[Event, list[Step]]:
        """One activity's event; an opened deal also plans the rest of its story."""
        if activity == "deal":
            return self._deals.open(rep, at, unit)
        make: Callable[[SimulatedRep, datetime], Event] = {
            "call": self._call,
            "nps": self._nps,
            "lead": self._lead,
            "account": self._account,
            "course": self._course,
        }[activity]
        return make(rep, at), []

    # -- one event each ----------------------------------------------------------------

    def _new_id(self) -> str:
        return random_id(self._rng)

    def _short_id(self, prefix: str) -> str:
        return short_id(self._rng, prefix)

    def _call(self, rep: SimulatedRep, at: datetime) -> Event:
        shares = {
            CallOutcome.MEETING_BOOKED: rep.meeting_share,
            CallOutcome.CONNECTED: 0.32,
            CallOutcome.VOICEMAIL: 0.2,
            CallOutcome.NO_ANSWER: 0.48 - rep.meeting_share,
        }
        outcome = self._rng.choices(list(shares), weights=list(shares.values()))[0]
        low, high = {
            CallOutcome.CONNECTED: (60, 900),
            CallOutcome.NO_ANSWER: (0, 30),
            CallOutcome.VOICEMAIL: (20, 90),
            CallOutcome.MEETING_BOOKED: (300, 1800),
        }[outcome]
        return CallLogged(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            call_id=self._short_id("call"),
            duration_seconds=float(self._rng.randint(low, high)),
            outcome=outcome,
        )

    def _nps(self, rep: SimulatedRep, at: datetime) -> Event:
        score = min(10, max(0, round(self._rng.gauss(rep.nps_mean, 1.5))))
        band = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        comment = self._rng.choice(NPS_COMMENTS[band]) if self._rng.random() < 0.3 else None
        return NpsResponse(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            account_id=self._rng.choice(rep.accounts),
            score=score,
            comment=comment,
        )

    def _lead(self, rep: SimulatedRep, at: datetime) -> Event:
        model = LeadConverted if self._rng.random() < rep.lead_conversion else LeadDisqualified
        return model(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            lead_id=self._short_id("lead"),
        )

    def _account(self, rep: SimulatedRep, at: datetime) -> Event:
        model = AccountRenewed if self._rng.random() < rep.retention else AccountChurned
        return model(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            account_id=self._rng.choice(rep.accounts),
        )

    def _course(self, rep: SimulatedRep, at: datetime) -> Event:
        course_id, hours = self._rng.choice(COURSES)
        return CourseCompleted(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            course_id=course_id,
            hours=hours,
        )


def _days(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _at_second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; fine for the small daily means used here (< 60)."""
    if mean <= 0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
