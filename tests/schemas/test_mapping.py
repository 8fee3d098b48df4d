"""Mapping files fail at load with the line, the field and the fix; the presets load."""

from __future__ import annotations

import pytest

from schemas.mapping import PRESETS, MappingError, load_preset, parse_mapping

HEAD = """source: dialer
auth: {scheme: shared_secret, secret_env: DIALER_SECRET}
kinds:
"""


def problems(text: str) -> str:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "dialer.yaml")
    return str(caught.value)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name: str) -> None:
    assert load_preset(name).source == name


def test_each_error_names_its_line_and_fix() -> None:
    text = (
        HEAD
        + """  - event: call_loged
    fields: {event_id: "id"}
  - event: call_logged
    fields:
      event_id: "join(, [id])"
      owner: "numbr(x)"
      occurred_at: "t"
"""
    )
    message = problems(text)
    assert "line 4: kinds.0.event: 'call_loged' is not an event type" in message
    assert "line 8: kinds.1.fields.event_id: not a JMESPath expression" in message
    assert "line 9: kinds.1.fields.owner: unknown function numbr()" in message
    assert "Lookup" not in message  # the union's other member is noise here


def test_a_kind_must_give_what_its_event_requires() -> None:
    text = (
        HEAD
        + """  - event: call_logged
    fields:
      event_id: "id"
      owner: "o"
      occurred_at: "t"
      call_id: "id"
      colour: "c"
"""
    )
    message = problems(text)
    assert "line 4: kinds.0: call_logged has no field colour" in message
    text = text.replace('      colour: "c"\n', "")
    assert "call_logged needs the fields duration_seconds, outcome" in problems(text)


def test_owner_or_rep_id_not_both_nor_neither() -> None:
    both = (
        HEAD
        + """  - event: lead_converted
    fields: {event_id: "id", owner: "o", rep_id: "r", occurred_at: "t", lead_id: "l"}
"""
    )
    assert "either 'owner'" in problems(both)
    neither = both.replace('owner: "o", rep_id: "r", ', "")
    assert "either 'owner'" in problems(neither)


def test_secrets_are_never_inline() -> None:
    text = (
        HEAD.replace("secret_env: DIALER_SECRET", "secret: hunter2")
        + """  - event: lead_converted
    fields: {event_id: "id", rep_id: "r", occurred_at: "t", lead_id: "l"}
"""
    )
    assert "line 2: auth.secret: unknown field" in problems(text)


def test_not_yaml() -> None:
    assert "is not valid YAML" in problems("source: [unclosed\n")
