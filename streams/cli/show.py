"""``scorestream show REP``: a rep's current scorecards from Redis, explained.

Each KPI shows its value, target, attainment and the points it brings, with the
move since the previous card: the "transparent, never a black box" principle.
``--json`` prints the cards in the replay's JSON shape, so a script can compare
the stream's scorecards with ``scorestream replay``'s.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from streams.cli import load_settings, run_read
from streams.views.documents import rep_cards, rep_document
from streams.views.formatting import number, one_line, score


def show(
    rep_id: Annotated[str, typer.Argument(help="The rep's id, as in the CRM events.")],
    window: Annotated[
        str | None, typer.Option("--window", "-w", help="Only this window (e.g. 30d, quarter).")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help='Print {"rep_id", "scorecards": [...]} (the replay shape).'),
    ] = False,
) -> None:
    """Show a rep's current scorecards: overall, perspectives, every KPI and what moved."""
    settings = load_settings()
    cards = run_read(settings, lambda reader: rep_cards(reader, rep_id, window))
    if as_json:
        typer.echo(orjson.dumps(rep_document(rep_id, cards), option=orjson.OPT_INDENT_2).decode())
        return
    console = Console()
    for card in cards:
        console.print(card_view(card))
        console.print()


def card_view(card: dict[str, Any]) -> Group:
    """One stored card as a heading, a perspectives table and a KPI table."""
    moved: dict[str, Any] = card.get("change") or {}
    heading = Text.assemble(
        (one_line(card.get("rep_id", card.get("team_id"))), "bold"),
        f"  {card['window']} as of {card['as_of']}",
        f"  team {one_line(card.get('team_id') or '-')}",
        ""
        if card.get("definition_version") is None
        else f"  scorecard v{card['definition_version']}",
        "  overall ",
        (score(card.get("overall")), "bold"),
        _delta(moved.get("overall")),
    )
    perspectives = Table(title_justify="left", box=None, pad_edge=False)
    perspectives.add_column("perspective")
    perspectives.add_column("score", justify="right")
    perspectives.add_column("change", justify="right")
    moved_p: dict[str, Any] = moved.get("perspectives") or {}
    for name, value in card.get("perspectives", {}).items():
        perspectives.add_row(name.replace("_", " "), score(value), _delta(moved_p.get(name)))

    kpis = Table(title_justify="left")
    kpis.add_column("kpi", no_wrap=True)
    kpis.add_column("value", justify="right")
    kpis.add_column("target", justify="right")
    kpis.add_column("attain.", justify="right")
    kpis.add_column("points", justify="right")
    kpis.add_column("Δ value", justify="right")
    kpis.add_column("Δ points", justify="right")
    moved_k: dict[str, Any] = moved.get("kpis") or {}
    for name, kpi in card.get("kpis", {}).items():
        step = moved_k.get(name) or {}
        kpis.add_row(
            name,
            number(kpi.get("value")),
            number(kpi.get("target")),
            "n/a" if kpi.get("attainment") is None else f"{kpi['attainment']:.0%}",
            f"{kpi.get('contribution', 0.0):.1f}",
            _delta(step.get("value"), as_number=True),
            _delta(step.get("contribution")),
        )
    updated = Text(f"updated {card.get('updated_at', '?')}", style="dim")
    return Group(heading, perspectives, kpis, updated)


def _version(version: int | None) -> str:
    return "" if version is None else f"  scorecard v{version}"


def _delta(value: float | None, *, as_number: bool = False) -> Text:
    if value is None or abs(value) < 1e-9:
        return Text("")
    sign = "+" if value > 0 else ""
    text = number(value) if as_number else f"{value:.1f}"
    return Text(f" {sign}{text}", style="green" if value > 0 else "red")
