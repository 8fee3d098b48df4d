"""Which hooks the gateway serves, from the mappings and the secrets in the environment."""

from __future__ import annotations

import pytest

from schemas.mapping import MappingError
from schemas.settings import Settings
from streams.ingest.hooks import load_hooks


def test_a_hook_is_served_only_with_a_secret_long_enough_to_sign_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCORESTREAM_HUBSPOT_SECRET", raising=False)
    monkeypatch.delenv("SCORESTREAM_SALESFORCE_SECRET", raising=False)
    hooks, off = load_hooks(Settings())
    assert hooks == {} and len(off) == 2

    monkeypatch.setenv("SCORESTREAM_HUBSPOT_SECRET", "old-secret-0123456789, new-secret-0123456789")
    hooks, off = load_hooks(Settings())
    assert set(hooks) == {"hubspot"}
    assert hooks["hubspot"].secrets == ("old-secret-0123456789", "new-secret-0123456789")
    assert off == ["/v1/hooks/salesforce is off: set SCORESTREAM_SALESFORCE_SECRET to serve it"]

    monkeypatch.setenv("SCORESTREAM_SALESFORCE_SECRET", "long-enough-0123456789,hunter2")
    too_short = (r"SCORESTREAM_SALESFORCE_SECRET: a secret of 7 characters is too short for"
                 r" /v1/hooks/salesforce; give at least 16")  # fmt: skip
    with pytest.raises(MappingError, match=too_short):
        load_hooks(Settings())
