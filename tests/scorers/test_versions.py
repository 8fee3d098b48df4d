"""Which scorecard version is in force, and the rule that refuses what the kept state cannot
score exactly: every case by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.definition_version import DefinitionVersion
from schemas.scorecard_definition import (
    DefinitionError,
    ScorecardDefinition,
    load_definition,
    parse_definition,
)
from scorers.versions import Versions, refusal, resolved

DEFAULT = load_definition()  # windows up to a quarter (92 days) + 7 days' lateness: keeps 99


def variant(**changes: Any) -> ScorecardDefinition:
    data = DEFAULT.model_dump(mode="json")
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return parse_definition(data)


def version(number: int, definition: ScorecardDefinition = DEFAULT) -> DefinitionVersion:
    at = datetime(2026, 5, number, 9, tzinfo=UTC)
    return DefinitionVersion.of(number, definition, note=f"v{number}", published_by="ops",
                                published_at=at)  # fmt: skip


V1 = version(1)


def test_weights_targets_kpis_rules_and_shorter_windows_are_taken() -> None:
    """None of these touch the kept state: the workers score them exactly."""
    for candidate in (
        variant(perspectives__financial__weight=0.9),
        variant(kpis__nps__target={"per_day": 1.0}, kpis__nps__cap=1.5),
        variant(kpis__training_hours=None, max_future_days=3, default_monthly_quota=90_000),
        variant(windows=["7d", "30d"], alerts={}),
        variant(fx_rates__JPY=0.0067),  # a new rate: deals in JPY were dead letters
    ):
        assert refusal(V1, candidate) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"timezone": "Europe/Berlin"}, "timezone 'Europe/Berlin' is not 'UTC' (version 1 in"),
        ({"currency": "EUR", "fx_rates": {"USD": 0.9}}, "currency EUR is not USD (version 1"),
        ({"fx_rates__EUR": 1.1}, "fx_rates.EUR: version 1 in force has 1.08 and this version"
                                 " changes it to 1.1"),
        ({"fx_rates__GBP": None}, "fx_rates.GBP: version 1 in force has 1.27 and this version"
                                  " removes"),
    ],
)  # fmt: skip
def test_zone_currency_and_fx_changes_are_refused(changes: dict[str, Any], reason: str) -> None:
    """Day buckets are days of the zone; revenue was converted at the rate as it was folded."""
    found = refusal(V1, variant(**changes))
    assert found is not None and found.startswith(reason), found


def test_a_window_longer_than_the_kept_history_is_refused_naming_the_longest_exact_one() -> None:
    """180 days + 7 of lateness = 187 > 99 kept: the longest window is 99 - 7 = 92 days."""
    reason = refusal(V1, variant(windows=["7d", "30d", "180d"]))
    assert reason == (
        "needs 187 days of history (windows.180d reaches back 180 days, plus"
        " allowed_lateness_days 7), but the workers keep 99 (version 1 in force) and what"
        " lies further back is gone: the longest window they can score exactly is 92d (with"
        " allowed_lateness_days 7). To reach further back, reset and replay the inputs with a"
        " definition whose keep_history_days leaves room"
    )
    # A larger lateness counts against the same 99 days.
    late = refusal(V1, variant(allowed_lateness_days=10))
    assert late is not None and "the longest window they can score exactly is 89d" in late
    # So does a change rule looking back past the windows.
    rule = refusal(V1, variant(alerts__score_drop__days=90))
    assert rule is not None and "alerts.score_drop reaches back 120 days" in rule


def test_keep_history_days_leaves_room_and_lowering_it_keeps_it() -> None:
    """Version 1 keeps 400 days: a 180-day window fits. A version keeping the default 99 is
    taken, and the workers still keep 400 days: the 180-day window fits after it too, and a
    version needing more than 400 is refused."""
    roomy = version(1, variant(keep_history_days=400))
    longer = variant(windows=["7d", "30d", "180d"], keep_history_days=400)
    assert refusal(roomy, longer) is None
    assert refusal(roomy, DEFAULT) is None
    versions = resolved([roomy, version(2, DEFAULT), version(3, longer)])
    assert versions.in_force is not None and versions.in_force.version == 3
    assert versions.kept_days == 400
    versions.take(version(4, variant(keep_history_days=500)))
    reason = versions.refused[4]
    assert reason.startswith("needs 500 days of history (keep_history_days 500), but the"
                             " workers keep 400 (version 3 in force)")  # fmt: skip


def test_a_rollback_to_a_version_with_longer_windows_is_taken() -> None:
    """The shipped scorecard (99 days), then two short windows (fewer days), then the
    shipped one again: taken, and the kept days never went down."""
    short = variant(windows=["7d", "30d"])
    assert short.kept_days() < DEFAULT.kept_days()
    versions = resolved([V1, version(2, short)])
    assert versions.kept_days == DEFAULT.kept_days()
    assert versions.check(version(3, DEFAULT)) is None
    versions.take(version(3, DEFAULT))
    assert versions.in_force is not None and versions.in_force.version == 3
    assert refusal(version(2, short), DEFAULT) is not None  # by its own days alone: refused


def test_keep_history_days_below_what_the_scorecard_needs_is_an_error() -> None:
    needs = r"keep_history_days: 60 is less than this scorecard needs \(92 days reached back"
    with pytest.raises(DefinitionError, match=needs + r" \+ allowed_lateness_days 7 = 99\)"):
        variant(keep_history_days=60)
    assert variant(keep_history_days=99).kept_days() == DEFAULT.kept_days() == 99


def test_versions_are_taken_in_the_order_published() -> None:
    """The first is in force; a refused one leaves the one before in force; a later one that
    fits is taken; a number that is not newer is refused. Statuses, previous and summaries
    follow."""
    v2 = version(2, variant(perspectives__customer__weight=0.5))
    v3 = version(3, variant(timezone="Asia/Tokyo"))
    v4 = version(4, variant(kpis__deals_won__weight=0.3))
    again = version(2, variant(kpis__nps__weight=0.9))
    versions = resolved([V1, v2, v3, v4, again])
    assert versions.in_force == v4
    assert versions.latest == 4
    assert [versions.status(n) for n in (1, 2, 3, 4)] == [
        "superseded", "superseded", "refused", "in force"
    ]  # fmt: skip
    assert versions.refused[2] == "version 2 is not newer than version 4"
    assert versions.previous(4) == v2  # v3 was never in force
    assert versions.previous(1) is None
    summary = versions.summary(v4)
    assert (summary["version"], summary["status"], summary["previous"]) == (4, "in force", 2)
    assert [c["path"] for c in summary["changes"]] == [
        "kpis.deals_won.weight", "perspectives.customer.weight"
    ]  # fmt: skip
    assert versions.summary(V1)["changes"] is None


def test_taking_one_by_one_is_resolving_all_at_once() -> None:
    """The worker takes versions live one at a time; a worker starting later reads them all:
    both put the same version in force."""
    published = [
        V1,
        version(2, variant(timezone="Asia/Tokyo")),
        version(3, variant(windows=["7d", "30d"])),
    ]
    live = Versions()
    reasons = [live.take(v) for v in published]
    assert reasons[0] is None and reasons[1] is not None and reasons[2] is None
    assert live.in_force == resolved(published).in_force == published[2]
