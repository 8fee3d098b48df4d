"""Settings from the environment: the web token is a secret that never shows."""

from __future__ import annotations

import pytest

from schemas.settings import Settings, SettingsError

TOKEN = "correct-horse-battery-staple"


def test_the_web_token_is_read_but_never_shown() -> None:
    settings = Settings.from_env({"SCORESTREAM_WEB_TOKEN": TOKEN})
    assert settings.web_token is not None
    assert settings.web_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert TOKEN not in settings.model_dump_json()
    assert Settings.from_env({}).web_token is None


def test_a_short_web_token_fails_with_the_fix_and_without_the_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SCORESTREAM_WEB_TOKEN": "hunter2-short"})
    message = str(caught.value)
    assert "SCORESTREAM_WEB_TOKEN='***'" in message
    assert "16 characters or more" in message
    assert "hunter2" not in message
