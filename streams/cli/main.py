"""The ``scorestream`` command: one entry point, one module per command.

This file only assembles them, so ``scorestream --help`` is the map of the product.
"""

from __future__ import annotations

import typer

from streams.cli import (
    access,
    dlq,
    import_crm,
    ingest,
    leaderboard,
    mapping,
    notify,
    replay,
    reset,
    routes,
    schemas,
    scorecard,
    serve,
    show,
    simulate,
    tail,
    topics,
    worker,
)

app = typer.Typer(
    name="scorestream",
    help="Real-time balanced scorecards for sales teams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("replay")(replay.replay)
app.add_typer(scorecard.app, name="scorecard")
app.add_typer(schemas.app, name="schemas")
app.add_typer(topics.app, name="topics")
app.command("simulate")(simulate.simulate)
app.command("import-crm")(import_crm.import_crm)
app.command("worker")(worker.worker)
app.command("reset")(reset.reset)
app.command("show")(show.show)
app.command("leaderboard")(leaderboard.leaderboard)
app.command("tail")(tail.tail)
app.add_typer(dlq.app, name="dlq")
app.command("serve")(serve.serve)
app.command("ingest")(ingest.ingest)
app.add_typer(mapping.app, name="mapping")
app.add_typer(routes.app, name="routes")
app.add_typer(notify.app, name="notify")
app.add_typer(access.app, name="access")


def main() -> None:
    app()
