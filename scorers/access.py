"""Who sees what: a person (a ``Principal``) and a thing on ``serve`` -> allowed or not, and why.

Pure: the web layer finds who is asking and what the thing is (a rep's team comes from
its card), and asks here. One table of rules for pages, the API and the live stream, so
a page cannot show what the API refuses.

- ``admin``: everything, including the scorecard's versions.
- ``manager``: the boards; the reps of their teams in full (cards, pages, alerts); their
  teams' pages.
- ``rep``: the boards (overall and perspective scores); their own card and alerts in full.
- ``display``: the boards only (a screen on the floor): no rep or team pages, no alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from schemas.access import DirectoryEntry, Role

ALLOWS: Final[dict[Role, str]] = {
    Role.ADMIN: "everything: boards, every rep and team, alerts, the scorecard's versions",
    Role.MANAGER: "the boards, and the reps, pages and alerts of the teams they manage",
    Role.REP: "the boards by overall or perspective, and their own scorecard and alerts",
    Role.DISPLAY: "the boards by overall or perspective only (no rep or team pages, no alerts)",
}
"""What each role opens, in words: every refusal says it."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a role and its scope (the teams a manager manages, a rep's own id)."""

    role: Role
    name: str
    """Who, for logs and the page header: ``token 1a2b...``, an e-mail, ``web token``."""
    teams: frozenset[str] = field(default_factory=frozenset)
    rep_id: str | None = None
    grant_id: str | None = None
    """The API token's grant it came from (a session made with it ends with the grant)."""


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard (of everyone or of a team), ranked by ``by``."""

    kpi: bool
    """Ranked by a KPI's value (revenue, calls...) rather than a 0-100 score."""


@dataclass(frozen=True, slots=True)
class RepData:
    """A rep's scorecards, page, history or alerts."""

    rep_id: str
    team_id: str | None
    """The rep's team as its card says (None: no card, so no manager can claim the rep)."""


@dataclass(frozen=True, slots=True)
class TeamData:
    """A team's scorecards and page."""

    team_id: str


@dataclass(frozen=True, slots=True)
class AlertList:
    """The list of alerts (each alert in it is then a ``RepData`` of its rep)."""


@dataclass(frozen=True, slots=True)
class Versions:
    """The scorecard definition's versions: history and what each changed."""


Resource = Board | RepData | TeamData | AlertList | Versions


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    """Why not (empty when allowed): what was refused and what the role allows."""


def decide(principal: Principal, resource: Resource) -> Decision:
    """Whether ``principal`` may see ``resource``; a refusal says what the role allows."""
    if _allowed(principal, resource):
        return Decision(True, "")
    return Decision(False, f"{_what(resource)} is not for {_who(principal)}: {_allows(principal)}")


def may_see(principal: Principal, resource: Resource) -> bool:
    return _allowed(principal, resource)


def _allowed(principal: Principal, resource: Resource) -> bool:
    role = principal.role
    if role is Role.ADMIN:
        return True
    match resource:
        case Board(kpi=kpi):
            return role is Role.MANAGER or not kpi
        case RepData(rep_id=rep_id, team_id=team_id):
            if role is Role.REP:
                return rep_id == principal.rep_id
            return role is Role.MANAGER and team_id is not None and team_id in principal.teams
        case TeamData(team_id=team_id):
            return role is Role.MANAGER and team_id in principal.teams
        case AlertList():
            return role in (Role.MANAGER, Role.REP)
        case Versions():
            return False


def _who(principal: Principal) -> str:
    """The asker in a refusal: a token's id or a person's e-mail, and the scope."""
    if principal.role is Role.MANAGER:
        return f"{principal.name} (a manager of {', '.join(sorted(principal.teams)) or 'no team'})"
    if principal.role is Role.REP:
        return f"{principal.name} (rep {principal.rep_id!r})"
    return f"{principal.name} (a {principal.role})"


def _allows(principal: Principal) -> str:
    return f"a {principal.role} sees {ALLOWS[principal.role]}"


def _what(resource: Resource) -> str:
    match resource:
        case Board():
            return "a board ranked by a KPI's value"
        case RepData(rep_id=rep_id):
            return f"rep {rep_id!r}"
        case TeamData(team_id=team_id):
            return f"team {team_id!r}"
        case AlertList():
            return "the alerts"
        case Versions():
            return "the scorecard's versions"


def managed_teams(email: str, directory: Mapping[str, DirectoryEntry]) -> frozenset[str]:
    """The teams of the reps whose manager ``email`` is (e-mails compare case-blind)."""
    wanted = email.lower()
    return frozenset(
        entry.team_id
        for entry in directory.values()
        if entry.team_id and entry.manager_email and entry.manager_email.lower() == wanted
    )


def principal_for_email(
    email: str, admins: Iterable[str], directory: Mapping[str, DirectoryEntry]
) -> Principal | None:
    """Who a signed-in person is: an admin named in settings, else a manager of the teams
    whose reps name them as manager, else the rep whose e-mail it is; None: nobody we know."""
    wanted = email.lower()
    if wanted in {admin.lower() for admin in admins}:
        return Principal(Role.ADMIN, email)
    teams = managed_teams(email, directory)
    if teams:
        return Principal(Role.MANAGER, email, teams)
    for rep_id, entry in sorted(directory.items()):
        if entry.email and entry.email.lower() == wanted:
            return Principal(Role.REP, email, rep_id=rep_id)
    return None
