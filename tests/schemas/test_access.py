"""Grants: a scope that fits the role, durations, and the token's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.access import Grant, Role, Session, parse_duration, split_token, token_digest

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)


def grant(**fields: object) -> Grant:
    base: dict[str, object] = {
        "id": "abcdefabcdef", "role": "display", "granted_at": NOW, "granted_by": "ops",
        "token_sha256": token_digest("x"),
    }  # fmt: skip
    return Grant.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"role": "rep"}, "needs --rep"),
        ({"role": "manager"}, "needs --team"),
        ({"role": "display", "teams": ["north"]}, "not display"),
        ({"role": "admin", "rep_id": "ana"}, "not admin"),
    ],
)
def test_a_scope_that_does_not_fit_the_role_is_refused(
    fields: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        grant(**fields)


def test_a_grant_expires() -> None:
    limited = grant(role="manager", teams=["north"], expires_at=NOW + timedelta(days=1))
    assert not limited.expired(NOW) and limited.expired(NOW + timedelta(days=1))
    assert not grant().expired(NOW + timedelta(days=3650))
    assert grant(role="manager", email="m@x.com").role is Role.MANAGER


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86_400), ("12h", 43_200), ("90m", 5_400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "0d", "-1d", "1w", "d", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a number and a unit"):
        parse_duration(text)


def test_tokens_split_into_grant_id_and_secret() -> None:
    assert split_token("ss_abcdefabcdef_s3cr3t") == ("abcdefabcdef", "s3cr3t")
    for other in ("abcdefabcdef_s3cr3t", "ss_ABCDEFabcdef_x", "ss_abc_x", "ss_abcdefabcdef_"):
        assert split_token(other) is None


def test_a_session_has_exactly_one_way_in() -> None:
    Session(email="a@x.com", created_at=NOW, expires_at=NOW + timedelta(hours=1))
    with pytest.raises(ValidationError, match="exactly one"):
        Session(email="a@x.com", grant_id="g", created_at=NOW, expires_at=NOW)
    with pytest.raises(ValidationError, match="exactly one"):
        Session(created_at=NOW, expires_at=NOW)
