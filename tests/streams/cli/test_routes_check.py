"""`scorestream routes check`: valid files print masked receivers; bad ones exit 2 with the fix."""

from __future__ import annotations

import base64
from pathlib import Path

from typer.testing import CliRunner

from streams.cli.main import app
from tests.schemas.test_routes import ISSUE_SHAPE

runner = CliRunner()
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def test_check_masks_the_url_and_never_prints_the_secret(tmp_path: Path) -> None:
    file = tmp_path / "routes.yaml"
    file.write_text(ISSUE_SHAPE)
    env = {"FLOOR_HOOK": "https://hooks.example.com/T0/B0/token-xyz",
           "FLOOR_HOOK_SECRET": SECRET, "COLUMNS": "200"}  # fmt: skip
    result = runner.invoke(app, ["routes", "check", str(file)], env=env)
    assert result.exit_code == 0, result.output
    assert "https://hooks.example.com/***" in result.output
    assert "token-xyz" not in result.output and SECRET not in result.output
    assert "valid" in result.output


def test_check_exits_2_with_line_and_fix(tmp_path: Path) -> None:
    file = tmp_path / "routes.yaml"
    file.write_text(ISSUE_SHAPE.replace("to: [floor]", "to: [flor]"))
    result = runner.invoke(app, ["routes", "check", "--no-env", str(file)])
    assert result.exit_code == 2
    assert f"{file}:11: routes.0.to: no channel 'flor'" in result.output
