"""The access rules as a table: each role against each kind of thing, both ways."""

from __future__ import annotations

import pytest

from schemas.access import DirectoryEntry, Role
from scorers.access import (
    ALLOWS,
    AlertList,
    Board,
    Principal,
    RepData,
    Resource,
    TeamData,
    Versions,
    decide,
    managed_teams,
    principal_for_email,
)

ADMIN = Principal(Role.ADMIN, "admin")
MANAGER = Principal(Role.MANAGER, "m@x", frozenset({"north"}))
REP = Principal(Role.REP, "ana@x", rep_id="ana")
DISPLAY = Principal(Role.DISPLAY, "tv")

ANA = RepData("ana", "north")  # the rep's own, in the manager's team
CYD = RepData("cyd", "south")  # another rep, another team
BOB = RepData("bob", "north")  # another rep, the manager's team

TABLE: list[tuple[Resource, set[Principal]]] = [
    (Board(kpi=False), {ADMIN, MANAGER, REP, DISPLAY}),
    (Board(kpi=True), {ADMIN, MANAGER}),
    (ANA, {ADMIN, MANAGER, REP}),
    (BOB, {ADMIN, MANAGER}),
    (CYD, {ADMIN}),
    (RepData("new", None), {ADMIN}),  # no card yet: no manager can claim it
    (TeamData("north"), {ADMIN, MANAGER}),
    (TeamData("south"), {ADMIN}),
    (AlertList(), {ADMIN, MANAGER, REP}),
    (Versions(), {ADMIN}),
]


@pytest.mark.parametrize(("resource", "allowed"), TABLE)
@pytest.mark.parametrize("who", [ADMIN, MANAGER, REP, DISPLAY], ids=lambda p: p.role.value)
def test_each_role_sees_exactly_what_it_names(
    who: Principal, resource: Resource, allowed: set[Principal]
) -> None:
    """Allowed and refused, for every pair; a refusal names the thing and the role's scope."""
    decision = decide(who, resource)
    assert decision.allowed is (who in allowed)
    if decision.allowed:
        assert decision.reason == ""
    else:
        assert ALLOWS[who.role] in decision.reason
        assert who.role.value in decision.reason


def test_a_refusal_names_the_rep_and_the_managers_teams() -> None:
    reason = decide(MANAGER, CYD).reason
    assert reason.startswith("rep 'cyd' is not for m@x (a manager of north): a manager sees")


def test_a_rep_id_is_compared_exactly() -> None:
    """No prefix or case games: ``ana`` is not ``Ana`` nor ``ana/x``."""
    assert not decide(REP, RepData("Ana", "north")).allowed
    assert not decide(REP, RepData("ana/x", "north")).allowed


DIRECTORY = {
    "ana": DirectoryEntry(team_id="north", email="ana@x.com", manager_email="Mia@x.com"),
    "bob": DirectoryEntry(team_id="north", email="bob@x.com", manager_email="mia@x.com"),
    "cyd": DirectoryEntry(team_id="south", email="cyd@x.com", manager_email="max@x.com"),
    "dan": DirectoryEntry(team_id="west", email=None, manager_email="mia@x.com"),
}


def test_a_manager_manages_the_teams_of_the_reps_who_name_them() -> None:
    assert managed_teams("mia@x.com", DIRECTORY) == {"north", "west"}
    assert managed_teams("nobody@x.com", DIRECTORY) == frozenset()


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("boss@x.com", Principal(Role.ADMIN, "boss@x.com")),
        ("BOSS@x.com", Principal(Role.ADMIN, "BOSS@x.com")),
        ("MIA@x.com", Principal(Role.MANAGER, "MIA@x.com", frozenset({"north", "west"}))),
        ("cyd@X.com", Principal(Role.REP, "cyd@X.com", rep_id="cyd")),
        ("stranger@x.com", None),
    ],
)
def test_who_a_signed_in_person_is(email: str, expected: Principal | None) -> None:
    """Admins from settings first, then managers and reps from the CRM's directory."""
    assert principal_for_email(email, ["boss@x.com"], DIRECTORY) == expected
