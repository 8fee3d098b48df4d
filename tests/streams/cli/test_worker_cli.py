"""``scorestream worker``'s checks before it connects anywhere."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from streams.cli.worker import worker

app = typer.Typer()
app.command("worker")(worker)
app.command("unused")(lambda: None)  # two commands: `worker` stays a subcommand name
runner = CliRunner()


def test_a_data_dir_that_cannot_be_made_fails_at_start_naming_the_option(tmp_path: Path) -> None:
    """faust makes only the last level of its datadir and fails later with a bare
    FileNotFoundError; the command makes the whole path, or says which option to fix."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, ["worker", "--data-dir", str(blocker / "state")])
    assert result.exit_code == 2
    assert f"--data-dir {blocker / 'state'}" in result.stderr
    assert "Not a directory" in result.stderr
