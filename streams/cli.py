"""The ``scorestream`` command: one entry point, one small module per command group.

Each command lives next to the code it drives; this file only assembles them, so
``scorestream --help`` is the map of the product.
"""

from __future__ import annotations

import typer

from schemas.settings import Settings, SettingsError
from streams import (
    crm_import_cli,
    leaderboard_cli,
    replay_cli,
    reset_cli,
    schemas_cli,
    scorecard_cli,
    show_cli,
    simulate_cli,
    tail_cli,
    topics_cli,
    worker_cli,
)
from streams.logs import configure_logging

app = typer.Typer(
    name="scorestream",
    help="Real-time balanced scorecards for sales teams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("replay")(replay_cli.replay)
app.add_typer(scorecard_cli.app, name="scorecard")
app.add_typer(schemas_cli.app, name="schemas")
app.add_typer(topics_cli.app, name="topics")
app.command("simulate")(simulate_cli.simulate)
app.command("import-crm")(crm_import_cli.import_crm)
app.command("worker")(worker_cli.worker)
app.command("reset")(reset_cli.reset)
app.command("show")(show_cli.show)
app.command("leaderboard")(leaderboard_cli.leaderboard)
app.command("tail")(tail_cli.tail)


def load_settings() -> Settings:
    """Settings from the environment; a bad variable ends the command with its fix."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_format)
    return settings


def main() -> None:
    app()
