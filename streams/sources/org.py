"""The simulated sales org: teams in their time zones, and reps with a skill and a profile.

Every random choice comes from a ``random.Random`` seeded from the config's org seed, so
a seed fixes the org exactly (``streams.sources.simulator`` plays its events).
"""

from __future__ import annotations

import random
import statistics
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, timedelta, timezone
from typing import Final, Literal, TypeAlias

Activity: TypeAlias = Literal["call", "deal", "nps", "lead", "account", "course"]
ACTIVITIES: Final[tuple[Activity, ...]] = ("call", "deal", "nps", "lead", "account", "course")


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


MONTHLY_QUOTA_BASE: Final = 75_000.0
"""A stretch quota: the median rep closes about 70% of it, as in most sales orgs."""
MAX_REPS_PER_TEAM: Final = 250  # large orgs are for benchmarks; names repeat with a number


@dataclass(frozen=True)
class SimulatedRep:
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
    crm_owner_ids: tuple[tuple[str, str], ...] = ()
    """Made-up CRM user ids, so the demo's HubSpot and Salesforce hooks find the rep: the
    n-th rep of the org is HubSpot owner 1000+n and Salesforce user 005000000000000n."""

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


def build_org(config: SimulationConfig) -> tuple[SimulatedRep, ...]:
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
            owners = (("hubspot", str(1001 + i)), ("salesforce", f"005{i + 1:015d}"))
            reps.append(replace(_rep_profile(rng, rep_id, first, team, skills[i]),
                                crm_owner_ids=owners))  # fmt: skip
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
) -> SimulatedRep:

    def jitter() -> float:
        return rng.uniform(0.85, 1.15)

    # Calibrated with schemas/default_scorecard.yaml (scripts/demo_spread.py measures it):
    # a mid-skill rep (0.55) reaches about 70% of the stretch targets, the best reach them.
    return SimulatedRep(
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


def random_id(rng: random.Random) -> str:
    """A UUID4-shaped event id drawn from ``rng`` (not ``uuid4()``: a seed fixes every id)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def short_id(rng: random.Random, prefix: str) -> str:
    """A CRM record id (``call-…``, ``deal-…``) drawn from ``rng``."""
    return f"{prefix}-{rng.getrandbits(48):012x}"
