"""The simulator: deterministic, valid, and as messy as a real CRM on purpose."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from schemas.events import (
    TOPIC_OF_EVENT_TYPE,
    CallLogged,
    CallOutcome,
    DealLost,
    DealOpened,
    DealStageChanged,
    DealWon,
    Event,
    RepUpserted,
    event_to_json,
    parse_event,
)
from schemas.exceptions import EventError
from sinks.wire import WireMessage
from streams.cli.simulate import simulate
from streams.sources.delivery import paced
from streams.sources.event_stats import EventStats
from streams.sources.malformed import inject_malformed
from streams.sources.org import SimulationConfig
from streams.sources.simulator import Simulator

END = datetime(2026, 1, 31, tzinfo=UTC)
DAYS = 60


def backfill(seed: int, days: int = DAYS, end: datetime = END, **options: int) -> list[Event]:
    return list(Simulator(SimulationConfig(seed=seed, **options)).backfill(days, end))


@pytest.fixture(scope="module", name="events")
def fixture_events() -> list[Event]:
    return backfill(seed=7)


@pytest.fixture(scope="module", name="simulator")
def fixture_simulator() -> Simulator:
    return Simulator(SimulationConfig(seed=7))


def first_deliveries(events: list[Event]) -> list[Event]:
    seen: set[str] = set()
    firsts = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            firsts.append(event)
    return firsts


class FakeClock:
    """Time that only moves when the code under test sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept = 0.0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


# --- determinism ---------------------------------------------------------------------


def test_same_seed_and_end_give_identical_events(events: list[Event]) -> None:
    """A seed and an end time fix the whole stream, byte for byte."""
    again = backfill(seed=7)
    assert [event_to_json(e) for e in again] == [event_to_json(e) for e in events]


def test_different_seed_gives_different_events(events: list[Event]) -> None:
    """Another seed is another org and another history, not a reshuffle of the same ids."""
    other = backfill(seed=8)
    assert {e.event_id for e in other}.isdisjoint({e.event_id for e in events})
    assert [e.rep_id for e in other[:20]] != [e.rep_id for e in events[:20]]


def test_an_org_seed_keeps_the_org_under_another_seed(events: list[Event]) -> None:
    """A live run with a new seed and the backfill's org seed: same reps, teams and
    quotas (no rep moves team), new events."""
    org = Simulator(SimulationConfig(seed=7)).reps
    assert Simulator(SimulationConfig(seed=99, org_seed=7)).reps == org
    assert Simulator(SimulationConfig(seed=99)).reps != org
    other = backfill(seed=99, org_seed=7)
    assert {e.event_id for e in other}.isdisjoint({e.event_id for e in events})


def test_generation_uses_no_global_random(events: list[Event]) -> None:
    """Reseeding or consuming the global ``random`` does not change the output."""
    random.seed(12345)
    random.random()
    assert [event_to_json(e) for e in backfill(seed=7)] == [event_to_json(e) for e in events]


# --- the contract ----------------------------------------------------------------------


def test_every_event_reparses_to_itself(events: list[Event]) -> None:
    """Every generated event survives the wire: its JSON parses back to an equal model."""
    for event in events:
        assert parse_event(event_to_json(event)) == event


@given(seed=st.integers(min_value=0, max_value=2**31), days=st.integers(min_value=1, max_value=5))
@settings(max_examples=25, deadline=None)
def test_any_seed_gives_valid_events_inside_the_window(seed: int, days: int) -> None:
    """Whatever the seed and length: valid JSON for every event, all inside [start, end)."""
    start = END - timedelta(days=days)
    for event in backfill(seed=seed, days=days, teams=2, reps_per_team=2):
        assert parse_event(event_to_json(event)) == event
        assert start <= event.occurred_at < END


def test_rep_directory_comes_first_with_quota_and_team(
    events: list[Event], simulator: Simulator
) -> None:
    """Each rep is announced once, before any activity, with a team and a monthly quota."""
    directory = events[: len(simulator.reps)]
    assert all(isinstance(e, RepUpserted) for e in directory)
    assert {e.rep_id for e in directory} == {rep.rep_id for rep in simulator.reps}
    for event in directory:
        assert isinstance(event, RepUpserted)
        assert event.team_id.startswith("team-") and event.rep_id.startswith("rep-")
        assert event.monthly_quota is not None and event.monthly_quota > 0
        assert event.email == f"{event.rep_id}@example.com"
        assert event.manager_email == f"lead-{event.team_id}@example.com"
    assert sum(isinstance(e, RepUpserted) for e in events) == len(simulator.reps)


def test_org_shape(simulator: Simulator) -> None:
    """Four teams of five by default, unique rep ids, one quiet rep, a real spread of skill."""
    reps = simulator.reps
    assert len(reps) == 20
    assert len({rep.rep_id for rep in reps}) == 20
    assert Counter(rep.team.team_id for rep in reps) == dict.fromkeys(
        ("team-north", "team-east", "team-south", "team-west"), 5
    )
    assert sum(rep.quiet for rep in reps) == 1
    assert max(rep.skill for rep in reps) - min(rep.skill for rep in reps) > 0.4


def test_every_event_type_appears(events: list[Event]) -> None:
    """Sixty days exercise every event type of the contract."""
    assert {e.event_type for e in events} == set(TOPIC_OF_EVENT_TYPE)


# --- realism -----------------------------------------------------------------------------


def test_skill_shows_in_the_numbers(events: list[Event], simulator: Simulator) -> None:
    """Better reps book more meetings per call: the scorecard has something to rank."""
    calls: dict[str, list[CallLogged]] = defaultdict(list)
    for event in first_deliveries(events):
        if isinstance(event, CallLogged):
            calls[event.rep_id].append(event)
    ranked = sorted(simulator.reps, key=lambda rep: rep.skill)

    def meeting_rate(rep_id: str) -> float:
        booked = sum(c.outcome == CallOutcome.MEETING_BOOKED for c in calls[rep_id])
        return booked / len(calls[rep_id])

    weakest = sum(meeting_rate(r.rep_id) for r in ranked[:5]) / 5
    strongest = sum(meeting_rate(r.rep_id) for r in ranked[-5:]) / 5
    assert strongest > 1.5 * weakest


def test_deals_close_after_they_open_mostly_in_usd(events: list[Event]) -> None:
    """A closed deal was opened days or weeks earlier; most are USD, some EUR."""
    closed = [e for e in events if isinstance(e, DealWon | DealLost)]
    assert closed
    for deal in closed:
        assert timedelta(days=1) < deal.occurred_at - deal.opened_at < timedelta(days=365)
    currencies = Counter(e.currency for e in closed if isinstance(e, DealWon))
    assert set(currencies) == {"USD", "EUR"}
    assert currencies["USD"] > currencies["EUR"] > 0


def test_non_utc_offsets_present(events: list[Event]) -> None:
    """Teams stamp events in their own offsets (+01:00, -05:00, -08:00) as well as UTC."""
    offsets = {e.occurred_at.utcoffset() for e in events}
    assert {timedelta(0), timedelta(hours=1), timedelta(hours=-5), timedelta(hours=-8)} <= offsets
    assert b'+01:00"' in b"".join(event_to_json(e) for e in events[:2000])


def test_quiet_rep_has_no_events_in_the_final_week(
    events: list[Event], simulator: Simulator
) -> None:
    """One rep went quiet: nothing in the last week of the window, plenty before it."""
    quiet = simulator.quiet_rep.rep_id
    theirs = [e for e in events if e.rep_id == quiet and not isinstance(e, RepUpserted)]
    assert len(theirs) > 100
    assert max(e.occurred_at for e in theirs) < END - timedelta(days=7)
    others = {e.rep_id for e in events if e.occurred_at >= END - timedelta(days=7)}
    assert len(others) == len(simulator.reps) - 1


def stories(events: list[Event]) -> dict[str, list[Event]]:
    """Each deal's events (first deliveries) in time order."""
    story: dict[str, list[Event]] = defaultdict(list)
    for event in first_deliveries(events):
        deal_id = getattr(event, "deal_id", None)
        if deal_id is not None:
            story[deal_id].append(event)
    return {deal: sorted(steps, key=lambda s: s.occurred_at) for deal, steps in story.items()}


def test_reopened_deals_are_won_again(events: list[Event]) -> None:
    """A won deal gets reopened and then won again, under new event ids, in that time order."""
    outcomes = {"deal_won", "deal_reopened", "deal_lost"}
    rewon = [
        [s for s in steps if s.event_type in outcomes]
        for steps in stories(events).values()
        if [s.event_type for s in steps if s.event_type in outcomes]
        == ["deal_won", "deal_reopened", "deal_won"]
    ]
    assert rewon
    for steps in rewon:
        assert len({s.event_id for s in steps}) == 3
        assert steps[0].occurred_at < steps[1].occurred_at < steps[2].occurred_at


def test_deals_open_move_through_stages_and_close(events: list[Event]) -> None:
    """A deal opens (stage qualified, a list price, an expected close), may move to proposal
    (no amount: the price stands) and negotiation (the real amount), then is won or lost, its
    opened_at the opening's time. A deal opened before the history began shows up at its
    first step with an amount, or at its outcome."""
    everything = stories(events)
    opened_here = 0
    for steps in everything.values():
        kinds = [s.event_type for s in steps]
        first = steps[0]
        if isinstance(first, DealOpened):
            opened_here += 1
            assert (first.stage, first.expected_close is not None) == ("qualified", True)
            assert first.amount > 0
            for outcome in steps:
                if isinstance(outcome, DealWon | DealLost):
                    assert outcome.opened_at == first.occurred_at
        else:
            assert "deal_opened" not in kinds
            assert not isinstance(first, DealStageChanged) or first.amount is not None
        decided = [i for i, k in enumerate(kinds) if k in ("deal_won", "deal_lost")]
        staged = [i for i, k in enumerate(kinds) if k == "deal_stage_changed"]
        if decided and staged:
            assert max(staged) < min(decided)
    changes = [e for e in first_deliveries(events) if isinstance(e, DealStageChanged)]
    assert opened_here > 200
    assert {c.stage for c in changes} == {"proposal", "negotiation"}
    assert all(c.amount is None for c in changes if c.stage == "proposal")
    assert all(c.amount is not None for c in changes if c.stage == "negotiation")


def test_a_realistic_open_pipeline_at_the_end(events: list[Event], simulator: Simulator) -> None:
    """At the end of the history most reps have deals open (opened or moved, not decided),
    a few each: the pipeline the scorecard's leading indicators look at."""
    open_by_rep: Counter[str] = Counter()
    for steps in stories(events).values():
        if steps[-1].event_type in ("deal_opened", "deal_stage_changed"):
            open_by_rep[steps[-1].rep_id] += 1
    active = [rep.rep_id for rep in simulator.reps if not rep.quiet]
    assert sum(open_by_rep[rep] >= 3 for rep in active) >= len(active) - 2
    assert max(open_by_rep.values()) < 60


# --- delivery faults -----------------------------------------------------------------------


def test_duplicates_are_identical_redeliveries(events: list[Event]) -> None:
    """~1.5% of events are sent twice: same event_id, byte-identical content."""
    by_id: dict[str, list[bytes]] = defaultdict(list)
    for event in events:
        by_id[event.event_id].append(event_to_json(event))
    repeated = {i: bodies for i, bodies in by_id.items() if len(bodies) > 1}
    share = sum(len(b) - 1 for b in repeated.values()) / len(events)
    assert 0.005 < share < 0.03
    for bodies in repeated.values():
        assert len(set(bodies)) == 1


def test_late_events_present(events: list[Event]) -> None:
    """~1.5% of first deliveries arrive after an event with a later occurred_at."""
    stats = EventStats()
    for event in events:
        stats.observe(event)
    assert 0.005 < stats.late / stats.total < 0.03
    # Everything else is in event-time order.
    firsts = first_deliveries(events)
    inversions = sum(a.occurred_at > b.occurred_at for a, b in itertools.pairwise(firsts))
    assert inversions <= 2 * stats.late


def test_no_faults_when_shares_are_zero() -> None:
    """With both shares at 0 the stream is clean: unique ids, non-decreasing event time."""
    clean = backfill(seed=3, days=10, duplicate_share=0, late_share=0)
    assert len({e.event_id for e in clean}) == len(clean)
    times = [e.occurred_at for e in clean]
    assert times == sorted(times)


def test_malformed_messages_fail_to_parse_and_keep_the_valid_stream(events: list[Event]) -> None:
    """Injected messages are really malformed; every valid event still goes through, in order."""
    mixed = list(inject_malformed(events[:3000], 0.2, random.Random(1)))
    bad = [m for m in mixed if isinstance(m, WireMessage)]
    assert 400 < len(bad) < 800
    for message in bad:
        with pytest.raises(EventError):
            parse_event(message.value)
        assert message.topic in TOPIC_OF_EVENT_TYPE.values() and message.key
        assert b"\n" not in message.value
    assert [m for m in mixed if not isinstance(m, WireMessage)] == events[:3000]
    assert len({m.note.split(":")[0] for m in bad if m.note}) >= 4


# --- live mode -------------------------------------------------------------------------------


def test_live_mode_paces_on_the_clock_and_stamps_now() -> None:
    """Live mode sends ``rate`` events per second of the injected clock, event time = now."""
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    simulator = Simulator(SimulationConfig(seed=5, late_share=0))
    stream = simulator.live(rate=20, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(2000):
        event = next(stream)
        sent.append((clock(), event))
    assert clock.slept == pytest.approx(1999 / 20)
    for now, event in sent:
        assert event.occurred_at <= now
        if event.event_type != "rep_upserted":
            assert now - event.occurred_at < timedelta(seconds=30)  # duplicates lag a little
    quiet = simulator.quiet_rep.rep_id
    assert not [e for _, e in sent if e.rep_id == quiet and e.event_type != "rep_upserted"]


def test_live_mode_shows_late_events_and_deal_follow_ups() -> None:
    """Late deliveries and reopen/re-win steps also happen live, minutes rather than days apart."""
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    stream = Simulator(SimulationConfig(seed=5)).live(rate=50, clock=clock, sleep=clock.sleep)
    events = [next(stream) for _ in range(60_000)]
    stats = EventStats()
    for event in events:
        stats.observe(event)
    assert stats.late > 0 and stats.duplicates > 0
    assert stats.per_event_type["deal_reopened"] > 0


def test_paced_pulls_each_item_when_due() -> None:
    """The n-th item is pulled at start + n/rate, so a live event is stamped when it is sent."""
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    pulled_at = []

    def source() -> Iterator[int]:
        for i in range(5):
            pulled_at.append(clock())
            yield i

    assert list(paced(source(), 2.0, clock, clock.sleep)) == [0, 1, 2, 3, 4]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert pulled_at == [start + timedelta(seconds=n / 2) for n in range(5)]


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture(name="cli")
def fixture_cli() -> typer.Typer:
    """The simulate command on its own app: streams.cli registration is not under test here."""
    app = typer.Typer()
    app.command("simulate")(simulate)
    app.command("noop")(lambda: None)  # two commands, so "simulate" stays a sub-command
    return app


def test_out_file_is_byte_identical_across_runs(cli: typer.Typer, tmp_path: Path) -> None:
    """Same --seed and --end: the same file, byte for byte (malformed lines included)."""
    args = ["simulate", "--days", "14", "--seed", "11", "--end", "2026-01-31", "--no-progress"]
    runner = CliRunner()
    for name in ("a.jsonl", "b.jsonl"):
        result = runner.invoke(
            cli, [*args, "--malformed-share", "0.01", "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    first, second = (tmp_path / "a.jsonl").read_bytes(), (tmp_path / "b.jsonl").read_bytes()
    assert first == second and len(first.splitlines()) > 1000


def test_cli_json_summary_matches_the_file(cli: typer.Typer, tmp_path: Path) -> None:
    """--json prints one JSON object on stdout whose counts match the lines written."""
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        cli,
        ["simulate", "--days", "7", "--seed", "2", "--end", "2026-01-31T12:00:00+01:00",
         "--out", str(out), "--malformed-share", "0.02", "--json", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    lines = out.read_bytes().splitlines()
    assert summary["events"] == len(lines) == summary["destination"]["lines"]
    parsed, bad = [], 0
    for line in lines:
        try:
            parsed.append(parse_event(line))
        except EventError:
            bad += 1
    assert bad == summary["malformed"] > 0
    assert summary["per_event_type"] == dict(sorted(Counter(e.event_type for e in parsed).items()))
    assert summary["duplicates"] > 0 and summary["late"] > 0
    assert datetime.fromisoformat(summary["start"]) == datetime(2026, 1, 24, 11, tzinfo=UTC)


def test_cli_limit_stops_live_mode(cli: typer.Typer, tmp_path: Path) -> None:
    """--rate with --limit sends exactly that many messages, then exits cleanly."""
    out = tmp_path / "live.jsonl"
    result = CliRunner().invoke(
        cli, ["simulate", "--rate", "500", "--limit", "40", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_bytes().splitlines()) == 40


@pytest.mark.parametrize(
    "args",
    [
        ["--days", "3", "--rate", "5"],
        [],
        ["--rate", "0"],
        ["--rate", "5", "--end", "2026-01-01"],
        ["--days", "3", "--end", "yesterday-ish"],
    ],
)
def test_cli_rejects_bad_mode_options(cli: typer.Typer, tmp_path: Path, args: list[str]) -> None:
    """Exactly one mode, a positive rate, --end only with --days and parseable: else exit 2."""
    result = CliRunner().invoke(cli, ["simulate", *args, "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
