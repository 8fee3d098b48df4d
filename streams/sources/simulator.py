"""A simulated sales org that plays CRM events: a backfilled history or a live stream.

Nothing here touches Kafka or files; it only yields ``schemas.events`` models, so the
same stream feeds Kafka, a JSONL file or a test. Every random choice comes from
``random.Random`` instances seeded from the config's seed (never the global
``random``), so a seed and an end time fix the output exactly.

The org is meant to look like a real one to the scorer: teams in different time
zones, reps of different skill, a rep who went quiet a week ago, deals that are won,
reopened and won again, and the delivery faults CRM webhooks have in practice —
redelivered duplicates (same id, same content) and events that arrive late.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final, Literal, TypeAlias, TypeVar

import structlog

from schemas.events import (
    AccountChurned,
    AccountRenewed,
    CallLogged,
    CallOutcome,
    CourseCompleted,
    DealLost,
    DealReopened,
    DealWon,
    Event,
    LeadConverted,
    LeadDisqualified,
    NpsResponse,
    RepUpserted,
)

log = structlog.get_logger(__name__)

Clock: TypeAlias = Callable[[], datetime]
"""Returns the current time, tz-aware; injected so tests can run live mode on fake time."""

Sleep: TypeAlias = Callable[[float], None]
"""Blocks for a number of seconds; the fake in tests advances its clock instead."""

Activity: TypeAlias = Literal["call", "deal", "nps", "lead", "account", "course"]
ACTIVITIES: Final[tuple[Activity, ...]] = ("call", "deal", "nps", "lead", "account", "course")

T = TypeVar("T")


@dataclass(frozen=True)
class TeamProfile:
    """A team: its id, the UTC offset its CRM stamps events with, its share of EUR deals."""

    team_id: str
    tz: timezone
    eur_share: float


TEAMS: Final[tuple[TeamProfile, ...]] = (
    TeamProfile("team-north", UTC, 0.05),
    TeamProfile("team-east", timezone(timedelta(hours=1)), 0.6),
    TeamProfile("team-south", timezone(timedelta(hours=-5)), 0.0),
    TeamProfile("team-west", timezone(timedelta(hours=-8)), 0.0),
)

FIRST_NAMES: Final = (
    "Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jamal",
    "Kai", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
    "Uma", "Victor", "Wen", "Yusuf",
)  # fmt: skip
LAST_NAMES: Final = (
    "Almeida", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Ibrahim", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel",
)  # fmt: skip

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

MONTHLY_QUOTA_BASE: Final = 75_000.0
"""A stretch quota: the median rep closes about 70% of it, as in most sales orgs."""
WEEKEND_ACTIVITY: Final = 0.05  # share of a weekday's activity that happens on a weekend
WORKDAY_START: Final = time(8)
WORKDAY_SECONDS: Final = 10 * 3600
REOPEN_SHARE: Final = 0.08  # won deals that get reopened (a CRM sending state, not increments)
REWIN_SHARE: Final = 0.75  # reopened deals that are won again (else lost)
MAX_UTC_OFFSET: Final = timedelta(hours=14)
MAX_REPS_PER_TEAM: Final = 250  # large orgs are for benchmarks; names repeat with a number


@dataclass(frozen=True)
class RepProfile:
    """One rep's habits; ``skill`` (0..1) drives the rates so a scorecard has spread."""

    rep_id: str
    name: str
    team: TeamProfile
    skill: float
    monthly_quota: float
    calls_per_day: float
    meeting_share: float
    deals_per_day: float
    win_rate: float
    deal_size: float
    sales_cycle_days: float
    nps_per_day: float
    nps_mean: float
    leads_per_day: float
    lead_conversion: float
    accounts_per_day: float
    retention: float
    courses_per_day: float
    accounts: tuple[str, ...]
    quiet: bool = False

    def daily_rate(self, activity: Activity) -> float:
        """Expected count of an activity on a weekday."""
        return {
            "call": self.calls_per_day,
            "deal": self.deals_per_day,
            "nps": self.nps_per_day,
            "lead": self.leads_per_day,
            "account": self.accounts_per_day,
            "course": self.courses_per_day,
        }[activity]


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; the seed alone fixes the org and every event."""

    seed: int
    org_seed: int | None = None
    """Fixes the org alone (teams, reps, their profiles); None: ``seed``. A live run with
    a new seed and the backfill's org seed continues the backfill's org."""
    teams: int = 4
    reps_per_team: int = 5
    duplicate_share: float = 0.015
    late_share: float = 0.015
    quiet_days: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.teams <= len(TEAMS):
            raise ValueError(f"teams must be 1..{len(TEAMS)}, got {self.teams}")
        if not 1 <= self.reps_per_team <= MAX_REPS_PER_TEAM:
            raise ValueError(
                f"reps_per_team must be 1..{MAX_REPS_PER_TEAM}, got {self.reps_per_team}"
            )
        for name in ("duplicate_share", "late_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5, got {share}")
        if self.quiet_days < 0:
            raise ValueError(f"quiet_days must be >= 0, got {self.quiet_days}")


@dataclass(frozen=True)
class FollowUp:
    """A later step of a deal's story (reopened, won again), built when it is due."""

    due: datetime
    make: Callable[[datetime], Event]


def build_org(config: SimulationConfig) -> tuple[RepProfile, ...]:
    """The reps, team by team; exactly one of them goes quiet (a rep on leave)."""
    org_seed = config.seed if config.org_seed is None else config.org_seed
    rng = random.Random(f"{org_seed}:org")
    firsts = list(FIRST_NAMES)
    rng.shuffle(firsts)
    skills = _skills(rng, config.teams * config.reps_per_team)
    reps = []
    for t, team in enumerate(TEAMS[: config.teams]):
        for i in range(t * config.reps_per_team, (t + 1) * config.reps_per_team):
            first, round_ = firsts[i % len(firsts)], i // len(firsts)
            rep_id = f"rep-{first.lower()}" + (f"-{round_ + 1}" if round_ else "")
            reps.append(_rep_profile(rng, rep_id, first, team, skills[i]))
    quiet_index = rng.randrange(len(reps))
    reps[quiet_index] = replace(reps[quiet_index], quiet=True)
    return tuple(reps)


SKILL: Final = statistics.NormalDist(mu=0.55, sigma=0.2)
"""Most reps are near the middle, a few are stars or struggling: a bell, not a flat line."""


def _skills(rng: random.Random, count: int) -> list[float]:
    """``count`` skills spread over the bell by its quantiles, in random order: every org,
    whatever its seed or size, has its median rep at 0.55 and its stars and stragglers."""
    skills = [
        min(0.95, max(0.1, SKILL.inv_cdf((i + rng.uniform(0.2, 0.8)) / count)))
        for i in range(count)
    ]
    rng.shuffle(skills)
    return skills


def _rep_profile(
    rng: random.Random, rep_id: str, first: str, team: TeamProfile, skill: float
) -> RepProfile:

    def jitter() -> float:
        return rng.uniform(0.85, 1.15)

    # Calibrated with schemas/default_scorecard.yaml (scripts/demo_spread.py measures it):
    # a mid-skill rep (0.55) reaches about 70% of the stretch targets, the best reach them.
    return RepProfile(
        rep_id=rep_id,
        name=f"{first} {rng.choice(LAST_NAMES)}",
        team=team,
        skill=round(skill, 3),
        monthly_quota=round(MONTHLY_QUOTA_BASE * rng.uniform(0.85, 1.15), -3),
        calls_per_day=(3 + 8 * skill) * jitter(),
        meeting_share=(0.04 + 0.18 * skill) * jitter(),
        deals_per_day=(0.35 + 0.4 * skill) * jitter(),
        win_rate=min(0.9, (0.2 + 0.45 * skill) * jitter()),
        deal_size=(4_000 + 9_000 * skill) * jitter(),
        sales_cycle_days=(45 - 30 * skill) * jitter(),
        nps_per_day=0.5 * jitter(),
        nps_mean=7.0 + 2.5 * skill,
        leads_per_day=(2 + 2 * skill) * jitter(),
        lead_conversion=(0.1 + 0.4 * skill) * jitter(),
        accounts_per_day=0.2 * jitter(),
        retention=min(0.98, (0.7 + 0.25 * skill) * jitter()),
        courses_per_day=rng.uniform(0.3, 3.0) / 21,
        accounts=tuple(f"acct-{rng.getrandbits(32):08x}" for _ in range(25)),
    )


class Simulator:
    """Plays the org's CRM events; one instance is one deterministic run."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.reps = build_org(config)
        self._rng = random.Random(f"{config.seed}:activity")
        self._delivery_rng = random.Random(f"{config.seed}:delivery")

    @property
    def quiet_rep(self) -> RepProfile:
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
        delivery = _Delivery(
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

        Deal follow-ups (reopen, re-win) come minutes rather than days later so a
        demo shows them; the quiet rep stays silent throughout.
        """
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        log.info("simulator.live", seed=self.config.seed, rate=rate)
        delivery = _Delivery(
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
            )

    def _history(self, start: datetime, end: datetime) -> Iterator[Event]:
        """Day by day, every rep's activity, merged into event-time order through a heap.

        A day's deals schedule their follow-ups days ahead, so events wait in the heap
        until no later day can produce anything earlier (the watermark).
        """
        pending: list[tuple[datetime, int, Event]] = []
        seq = itertools.count()
        quiet_from = end - timedelta(days=self.config.quiet_days)

        def keep(rep: RepProfile, event: Event) -> bool:
            at = event.occurred_at
            return start <= at < end and not (rep.quiet and at >= quiet_from)

        first_day = start.astimezone(UTC).date() - timedelta(days=1)
        last_day = end.astimezone(UTC).date() + timedelta(days=1)
        for day in _days(first_day, last_day):
            for rep in self.reps:
                for event in self._rep_day(rep, day):
                    if keep(rep, event):
                        heapq.heappush(pending, (event.occurred_at, next(seq), event))
            watermark = datetime.combine(day + timedelta(days=1), time(), UTC) - MAX_UTC_OFFSET
            while pending and pending[0][0] < watermark:
                yield heapq.heappop(pending)[2]
        while pending:
            yield heapq.heappop(pending)[2]

    def _rep_day(self, rep: RepProfile, day: date) -> Iterator[Event]:
        """One rep's events on one local working day, follow-ups included (any order)."""
        scale = WEEKEND_ACTIVITY if day.weekday() >= 5 else 1.0
        for activity in ACTIVITIES:
            for _ in range(_poisson(self._rng, rep.daily_rate(activity) * scale)):
                at = self._work_time(rep, day)
                event, follow_ups = self._act(rep, activity, at, unit=timedelta(days=1))
                yield event
                for follow_up in follow_ups:
                    yield follow_up.make(_at_second(follow_up.due))

    def _live_activity(self, clock: Clock) -> Iterator[Event]:
        active = [rep for rep in self.reps if not rep.quiet] or list(self.reps)
        choices = [(rep, activity) for rep in active for activity in ACTIVITIES]
        weights = list(itertools.accumulate(rep.daily_rate(act) for rep, act in choices))
        follow_ups: list[tuple[datetime, int, FollowUp]] = []
        seq = itertools.count()
        while True:
            now = clock()
            if follow_ups and follow_ups[0][0] <= now:
                yield heapq.heappop(follow_ups)[2].make(now)
                continue
            rep, activity = self._rng.choices(choices, cum_weights=weights)[0]
            at = now.astimezone(rep.team.tz)
            event, new = self._act(rep, activity, at, unit=timedelta(minutes=1))
            for follow_up in new:
                heapq.heappush(follow_ups, (follow_up.due, next(seq), follow_up))
            yield event

    def _work_time(self, rep: RepProfile, day: date) -> datetime:
        start = datetime.combine(day, WORKDAY_START, rep.team.tz)
        return start + timedelta(seconds=self._rng.randrange(WORKDAY_SECONDS))

    def _act(
        self, rep: RepProfile, activity: Activity, at: datetime, unit: timedelta
    ) -> tuple[Event, list[FollowUp]]:
        """One activity's event; a closed deal may also plan its reopen/re-win steps."""
        if activity == "deal":
            return self._close_deal(rep, at, unit)
        make: Callable[[RepProfile, datetime], Event] = {
            "call": self._call,
            "nps": self._nps,
            "lead": self._lead,
            "account": self._account,
            "course": self._course,
        }[activity]
        return make(rep, at), []

    # -- one event each ----------------------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _short_id(self, prefix: str) -> str:
        return f"{prefix}-{self._rng.getrandbits(48):012x}"

    def _call(self, rep: RepProfile, at: datetime) -> Event:
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

    def _close_deal(
        self, rep: RepProfile, at: datetime, unit: timedelta
    ) -> tuple[Event, list[FollowUp]]:
        """A deal closing now, opened weeks ago; a won one is sometimes reopened later."""
        deal_id = self._short_id("deal")
        cycle = timedelta(days=rep.sales_cycle_days * self._rng.lognormvariate(0, 0.4))
        opened_at = _at_second(at - cycle)
        if self._rng.random() >= rep.win_rate:
            return self._deal_lost(rep, deal_id, opened_at, at), []
        amount = round(rep.deal_size * self._rng.lognormvariate(0, 0.5), 2)
        currency = "EUR" if self._rng.random() < rep.team.eur_share else "USD"
        won = DealWon(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            deal_id=deal_id,
            opened_at=opened_at,
            amount=amount,
            currency=currency,
        )
        if self._rng.random() >= REOPEN_SHARE:
            return won, []
        reopen_at = at + unit * self._rng.uniform(1, 10)
        settle_at = reopen_at + unit * self._rng.uniform(2, 14)
        rewon = self._rng.random() < REWIN_SHARE
        new_amount = round(amount * self._rng.uniform(0.7, 1.1), 2)

        def reopened(t: datetime) -> Event:
            return DealReopened(
                event_id=self._new_id(),
                occurred_at=t.astimezone(rep.team.tz),
                rep_id=rep.rep_id,
                team_id=rep.team.team_id,
                deal_id=deal_id,
            )

        def settled(t: datetime) -> Event:
            if not rewon:
                return self._deal_lost(rep, deal_id, opened_at, t.astimezone(rep.team.tz))
            update = {"event_id": self._new_id(), "occurred_at": t.astimezone(rep.team.tz)}
            return won.model_copy(update={**update, "amount": new_amount})

        return won, [FollowUp(reopen_at, reopened), FollowUp(settle_at, settled)]

    def _deal_lost(self, rep: RepProfile, deal_id: str, opened_at: datetime, at: datetime) -> Event:
        return DealLost(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            deal_id=deal_id,
            opened_at=opened_at,
        )

    def _nps(self, rep: RepProfile, at: datetime) -> Event:
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

    def _lead(self, rep: RepProfile, at: datetime) -> Event:
        model = LeadConverted if self._rng.random() < rep.lead_conversion else LeadDisqualified
        return model(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            lead_id=self._short_id("lead"),
        )

    def _account(self, rep: RepProfile, at: datetime) -> Event:
        model = AccountRenewed if self._rng.random() < rep.retention else AccountChurned
        return model(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            account_id=self._rng.choice(rep.accounts),
        )

    def _course(self, rep: RepProfile, at: datetime) -> Event:
        course_id, hours = self._rng.choice(COURSES)
        return CourseCompleted(
            event_id=self._new_id(),
            occurred_at=at,
            rep_id=rep.rep_id,
            team_id=rep.team.team_id,
            course_id=course_id,
            hours=hours,
        )


class _Delivery:
    """The faults between a CRM and Kafka, played over an in-order stream.

    A late event is held back until the stream's event time has moved past it by a
    random lateness; a duplicate is the same model object sent again a few messages
    later, so its id and content are identical to the first delivery.
    """

    def __init__(
        self,
        rng: random.Random,
        duplicate_share: float,
        late_share: float,
        lateness: tuple[timedelta, timedelta],
    ) -> None:
        self._rng = rng
        self._duplicate_share = duplicate_share
        self._late_share = late_share
        self._lateness = lateness
        self._late: list[tuple[datetime, int, Event]] = []
        self._redeliveries: list[tuple[int, int, Event]] = []
        self._seq = itertools.count()
        self._sent = 0

    def offer(self, event: Event) -> list[Event]:
        """What goes out once ``event`` is produced in order (maybe nothing, maybe more)."""
        out: list[Event] = []
        if self._rng.random() < self._late_share:
            low, high = self._lateness
            release = event.occurred_at + low + (high - low) * self._rng.random()
            heapq.heappush(self._late, (release, next(self._seq), event))
            return out
        while self._late and self._late[0][0] <= event.occurred_at:
            self._send(heapq.heappop(self._late)[2], out)
        self._send(event, out)
        return out

    def drain(self) -> list[Event]:
        """Everything still held, for the end of a finite stream."""
        out: list[Event] = []
        while self._late:
            self._send(heapq.heappop(self._late)[2], out)
        out.extend(event for _, _, event in sorted(self._redeliveries))
        self._redeliveries.clear()
        return out

    def _send(self, event: Event, out: list[Event]) -> None:
        out.append(event)
        self._sent += 1
        while self._redeliveries and self._redeliveries[0][0] <= self._sent:
            out.append(heapq.heappop(self._redeliveries)[2])
            self._sent += 1
        if self._rng.random() < self._duplicate_share:
            after = self._sent + self._rng.randint(1, 20)
            heapq.heappush(self._redeliveries, (after, next(self._seq), event))


def paced(items: Iterable[T], rate: float, clock: Clock, sleep: Sleep) -> Iterator[T]:
    """Yield ``items`` at ``rate`` per second on ``clock``, pulling each one when due.

    Pulling after the wait (not before) keeps a live event's time equal to the moment
    it is sent. The schedule is absolute (start + n/rate), so slow consumers catch up
    instead of drifting.
    """
    iterator = iter(items)
    started = clock()
    for n in itertools.count():
        wait = (started + timedelta(seconds=n / rate) - clock()).total_seconds()
        if wait > 0:
            sleep(wait)
        try:
            yield next(iterator)
        except StopIteration:
            return


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
