"""The routing file: the issue's shape loads; every error names its line, field and fix;
secrets only come from variables and never show in a message."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from schemas.routes import (
    EmailChannel,
    RoutesError,
    WebhookChannel,
    load_routes,
    masked,
    parse_routes,
    resolve_secrets,
)

ISSUE_SHAPE = """\
channels:
  floor:                  # a name of your choosing
    type: webhook
    url_env: FLOOR_HOOK
    secret_env: FLOOR_HOOK_SECRET
routes:
  - rules: [nps_negative, no_calls]
    severities: [warning]
    teams: [team-1]
    reps: [rep-007]
    to: [floor]
"""

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_the_issue_shape_loads() -> None:
    """The shape the issue promises users keeps working, field for field."""
    routes = parse_routes(ISSUE_SHAPE)
    floor = routes.channels["floor"]
    assert isinstance(floor, WebhookChannel)
    assert (floor.url_env, floor.secret_env) == ("FLOOR_HOOK", "FLOOR_HOOK_SECRET")
    route = routes.routes[0]
    assert route.rules == ["nps_negative", "no_calls"]
    assert route.severities == ["warning"]
    assert (route.teams, route.reps, route.to) == (["team-1"], ["rep-007"], ["floor"])


def test_an_email_channel_takes_from_and_login_variables() -> None:
    routes = parse_routes(
        "channels:\n  mail:\n    type: email\n    host: smtp.example.com\n"
        "    from: alerts@example.com\n    to: [boss@example.com]\n"
        "    username_env: SMTP_USER\n    password_env: SMTP_PASSWORD\n"
        "routes:\n  - to: [mail]\n"
    )
    mail = routes.channels["mail"]
    assert isinstance(mail, EmailChannel)
    assert (mail.sender, mail.port, mail.starttls) == ("alerts@example.com", 587, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ISSUE_SHAPE.replace("    url_env: FLOOR_HOOK\n", "    url: https://x.example/h\n"),
         "<routes>:4: channels.floor.url: secrets are never written in the file; put the value"
         " in an environment variable and name it with url_env"),
        (ISSUE_SHAPE.replace("to: [floor]", "to: [flor]"),
         "<routes>:11: routes.0.to: no channel 'flor'; add it under channels or use one of floor"),
        (ISSUE_SHAPE.replace("type: webhook", "type: pager"),
         "<routes>:3: channels.floor.type: 'pager' is unknown; use webhook, slack, teams or email"),
        (ISSUE_SHAPE.replace("severities: [warning]", "severities: [urgent]"),
         "<routes>:8: routes.0.severities.0: 'urgent' is not allowed; expected 'positive',"
         " 'info' or 'warning'"),
        (ISSUE_SHAPE.replace("    secret_env: FLOOR_HOOK_SECRET\n", ""),
         "<routes>:2: channels.floor.secret_env: missing; add secret_env:"),
        (ISSUE_SHAPE + "teams:\n  team-1:\n    timezone: Mars/Olympus\n",
         "<routes>:14: teams.team-1.timezone: unknown time zone 'Mars/Olympus'; use an IANA"
         " name such as 'Europe/Berlin'"),
        (ISSUE_SHAPE.replace("    reps: [rep-007]\n", "    rep: [rep-007]\n"),
         "<routes>:10: routes.0.rep: unknown field; check its spelling against docs/notify.md"),
    ],
)  # fmt: skip
def test_errors_name_the_line_the_field_and_the_fix(text: str, expected: str) -> None:
    """A person fixes the file from the message alone: where, what, and what would be right."""
    with pytest.raises(RoutesError) as caught:
        parse_routes(text)
    assert expected in str(caught.value), str(caught.value)


def test_not_yaml_and_no_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RoutesError, match="is not valid YAML"):
        parse_routes("channels: [\n")
    with pytest.raises(RoutesError, match="cannot read routing file"):
        load_routes(tmp_path / "missing.yaml")


def test_secrets_come_from_variables_and_are_checked_without_showing_them() -> None:
    routes = parse_routes(ISSUE_SHAPE)
    hook = "https://hooks.example.com/T000/B000/very-secret-token"
    secrets = resolve_secrets(routes, {"FLOOR_HOOK": hook, "FLOOR_HOOK_SECRET": SECRET})
    floor = secrets["floor"]
    assert floor.url is not None and floor.url.get_secret_value() == hook
    assert floor.secret is not None and floor.secret.get_secret_value() == SECRET
    assert "very-secret-token" not in repr(floor)
    assert masked(hook) == "https://hooks.example.com/***"

    with pytest.raises(RoutesError) as caught:
        resolve_secrets(
            routes, {"FLOOR_HOOK": "not a url secret-1", "FLOOR_HOOK_SECRET": "whsec_%%%%"}
        )
    message = str(caught.value)
    assert "FLOOR_HOOK does not hold an http(s) URL" in message
    assert "FLOOR_HOOK_SECRET is not a Standard Webhooks secret" in message
    assert "%%%%" not in message and "secret-1" not in message

    with pytest.raises(RoutesError, match="URL variable FLOOR_HOOK is not set; export it"):
        resolve_secrets(routes, {"FLOOR_HOOK_SECRET": SECRET})
