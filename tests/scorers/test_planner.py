"""The batch planner, by hand: what one batch must write, send and dead-letter."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.dead_letter import DeadLetter, Reason
from schemas.events import TOPIC_OF_EVENT_TYPE, Event
from schemas.outputs import CoachingAlert, ScorecardUpdated
from schemas.scorecard_definition import load_definition
from scorers import counters as c
from scorers.calendar import epoch_us, from_date
from scorers.clock import ClockMode, EventClock
from scorers.fold import Folded, Folder
from scorers.intake import Message, decode
from scorers.planner import BatchInput, BatchPlan, plan_batch, plan_fold
from scorers.rep_scoring import Layout
from scorers.state import RepState
from tests.scorers.builders import call, day, directory, nps, won

DEFINITION = load_definition()
LAYOUT = Layout.of(DEFINITION)
NOW = datetime(2026, 6, 19, 18, 0, tzinfo=UTC)


def msg(
    event: Event | dict[str, Any] | bytes, key: bytes | None = None, offset: int = 0
) -> Message:
    """A message as the worker consumes it: on its event's topic, keyed by its rep."""
    if isinstance(event, bytes):
        return Message(key, event, "crm.deals", 0, offset, NOW.timestamp())
    body = event if isinstance(event, dict) else orjson.loads(event.model_dump_json())
    topic = TOPIC_OF_EVENT_TYPE.get(str(body.get("event_type")), "crm.deals")
    value = orjson.dumps(body)
    return Message(key or str(body["rep_id"]).encode(), value, topic, 0, offset, NOW.timestamp())


def plan(
    messages: list[Message],
    states: dict[str, RepState] | None = None,
    layout: Layout = LAYOUT,
    **changes: Any,
) -> BatchPlan:
    inp = BatchInput(
        messages=messages,
        now=NOW,
        today=from_date(NOW.date()),
        mode=ClockMode.EVENT,
        clock=EventClock(),
        **{"partition_of": dict.fromkeys(states or {}, 0), **changes},
    )
    return plan_batch(layout, inp, states or {}, {}, {})


def letters(p: BatchPlan) -> list[DeadLetter]:
    return [d.letter for d in p.dead_letters]


def test_every_kind_of_bad_message_is_a_dead_letter_with_its_reason_and_the_rest_is_folded() -> (
    None
):
    """Garbage, JSON that is no event, the wrong key, a date in the future, a currency without
    a rate, a redelivery: one reason each, and the one valid call counts once."""
    good = call("2026-06-18", rep="ana")
    batch = [
        msg(good),
        msg(b"<html>502 Bad Gateway</html>", b"ana"),
        msg({"event_type": "call_logged", "rep_id": "ana"}),
        msg(call("2026-06-18", rep="ana"), key=b"bob"),
        msg(call("2099-01-01", rep="ana")),
        msg(won("2026-06-18", "d9", 10, "2026-06-01", rep="ana", currency="JPY")),
        msg(good),
    ]
    p = plan(batch)
    assert [(letter.reason, letter.offset) for letter in letters(p)] == [
        (Reason.INVALID_JSON, 0),
        (Reason.INVALID_EVENT, 0),
        (Reason.WRONG_KEY, 0),
        (Reason.FUTURE, 0),
        (Reason.UNKNOWN_CURRENCY, 0),
    ]
    future = next(letter for letter in letters(p) if letter.reason is Reason.FUTURE)
    assert "max_future_days" in future.detail
    assert p.duplicates == 1
    assert p.touched == {"ana": (good.event_id,)}
    assert p.as_of == day("2026-06-18")
    bucket = p.states["ana"].buckets[day("2026-06-18")]
    assert (bucket.counters[c.CALLS], bucket.events) == (1, 1)
    assert [card.card.kpis["calls_logged"].value for card in p.cards] == [1.0] * 4


def test_the_batch_writes_back_every_key_it_touched() -> None:
    """A redelivered batch finds its events in their buckets, changes nothing, and still
    writes each key back: the local store may hold values the changelog lost in a crash."""
    deal = msg(won("2026-06-18", "d1", 500, "2026-06-01", rep="ana"))
    first = plan([deal])
    again = plan([deal], first.states)
    assert again.duplicates == 1
    assert again.states["ana"] == first.states["ana"]
    ((writes, partition),) = [(w.writes, w.partition) for w in again.state_writes]
    assert partition == 0  # its message's
    assert set(writes.buckets) == {day("2026-06-18")} and set(writes.deals) == {"d1"}
    assert writes.profile == first.states["ana"].rep_profile


def test_plan_fold_folds_what_plan_batch_folds_and_changes_nothing_it_was_given() -> None:
    """The replay's plan: the same states and dead letters as the worker's batch, no cards;
    the states given are left as they were; the latest day is that of an event folded, a
    duplicate's excepted."""
    events = [msg(won("2026-06-18", "d1", 500, "2026-06-01", rep="ana")),
              msg(call("2026-06-10", rep="bo")), msg(b"{not json", key=b"bo")]  # fmt: skip
    batch = plan(events, rules=False)  # rules write to the rule book: the fold alone here
    decoded = [decode(LAYOUT.folder, m, epoch_us(NOW)) for m in events]
    folded = plan_fold(LAYOUT, decoded, {}, NOW)
    assert folded.states == batch.states and not folded.cards and folded.scored == ()
    assert (folded.state_writes, folded.touched, folded.directory) == ((), {}, {})  # unused
    assert [d.rejected.reason for d in folded.dead_letters] == [
        d.rejected.reason for d in batch.dead_letters
    ]
    assert folded.latest_day == day("2026-06-18")
    given = {rep: dataclasses.replace(state) for rep, state in folded.states.items()}
    later = [decode(LAYOUT.folder, msg(call("2026-06-19", rep="bo")), epoch_us(NOW)), decoded[0]]
    again = plan_fold(LAYOUT, later, given, NOW)
    assert given == folded.states  # untouched: the plan folded into copies
    assert again.duplicates == 1 and again.latest_day == day("2026-06-19")
    assert again.states["bo"] != given["bo"]


def test_score_events_follow_the_contract_and_carry_their_cause() -> None:
    """Built as dicts for speed, score events must still be ``ScorecardUpdated``."""
    p = plan([msg(won("2026-06-18", "d1", 2_500, "2026-06-01", rep="ana", event_id="w1"))])
    assert len(p.score_events) == len(DEFINITION.windows)
    rep_id, raw = p.score_events[0].rep_id, p.score_events[0].value
    update = ScorecardUpdated.model_validate_json(raw)
    assert rep_id == "ana"
    assert set(orjson.loads(raw)) == set(ScorecardUpdated.model_fields)
    assert update.kpis["revenue_won"].value == 2_500
    assert update.kpis["revenue_won"].value_change == 2_500  # from nothing
    assert update.cause.kind == "event" and update.cause.event_ids == ["w1"]


def test_nothing_is_scored_while_catching_up_and_the_reps_are_scored_later() -> None:
    """score=False folds only; the next plan that scores takes the carried reps and ids."""
    folded = plan([msg(call("2026-06-18", rep="ana", event_id="c1"))], score=False)
    assert folded.cards == () and folded.score_events == () and folded.touched == {"ana": ("c1",)}
    later = plan([], folded.states, carried=folded.touched, scored_as_of=folded.as_of)
    assert later.as_of is None  # an event clock with no event read yet
    later = plan(
        [msg(call("2026-06-18", rep="bob"))],
        folded.states,
        carried=folded.touched,
        scored_as_of=day("2026-06-18"),
    )
    assert set(later.scored) == {"ana", "bob"}
    ana = next(e.value for e in later.score_events if e.rep_id == "ana")
    assert ScorecardUpdated.model_validate_json(ana).cause.event_ids == ["c1"]


def test_a_new_as_of_day_scores_every_rep_and_deletes_what_no_window_reaches() -> None:
    """A quiet rep is scored again when the day moves; its days before the floor are deleted."""
    old = plan([msg(call("2026-01-05", rep="ana"))])
    moved = plan([msg(call("2026-06-18", rep="bob"))], old.states, scored_as_of=day("2026-01-05"))
    assert moved.scored_all
    assert set(moved.scored) == {"ana", "bob"}
    ana = next(w.writes for w in moved.state_writes if w.writes.rep_id == "ana")
    assert ana.buckets == {day("2026-01-05"): None}
    assert moved.states["ana"].buckets == {}
    ana_cards = [u.card for u in moved.cards if u.card.rep_id == "ana"]
    assert [card.kpis["calls_logged"].value for card in ana_cards] == [0.0] * 4


def test_a_rule_that_fires_puts_its_alert_in_the_reps_outbox_in_the_same_write() -> None:
    """Six detractors in a week: nps_negative fires once, and its alert is written with the
    rule's new state, so a crash before the send loses nothing."""
    events = [directory("2026-06-01", "north", quota=30_000, rep="ana")]
    events += [nps(f"2026-06-{d:02d}", 2, rep="ana") for d in range(10, 16)]
    p = plan([msg(e) for e in events], rules=True)
    fired = [a for a in p.alerts["ana"] if a.rule == "nps_negative"]
    assert len(fired) == 1
    alert = fired[0]
    assert alert.rep_id == "ana" and alert.evidence["nps"] == -100.0
    (writes,) = [w.writes for w in p.state_writes]
    assert writes.rules is not None
    outbox = [CoachingAlert.model_validate(a) for a in writes.rules.outbox]
    assert outbox == list(p.alerts["ana"])
    assert writes.rules.states["nps_negative"].active
    again = plan([msg(e) for e in events], p.states, rules=True)
    assert again.alerts == {}


def test_no_rule_runs_while_catching_up() -> None:
    events = [nps(f"2026-06-{d:02d}", 2, rep="ana") for d in range(10, 16)]
    p = plan([msg(e) for e in events], rules=False)
    assert p.alerts == {} and all(w.writes.rules is None for w in p.state_writes)


class _Broken(Folder):
    """A fold that raises for one event: a bug hit by one message."""

    def fold(self, rep: Any, event: Event, day: int, not_before: int | None = None) -> Folded:
        if event.event_id == "boom":
            raise ZeroDivisionError("division by zero")
        return super().fold(rep, event, day, not_before)


def test_an_exception_on_one_message_dead_letters_it_and_the_batch_goes_on() -> None:
    layout = dataclasses.replace(LAYOUT, folder=_Broken(DEFINITION))
    p = plan(
        [msg(call("2026-06-18", rep="ana", event_id="boom")), msg(call("2026-06-18", rep="ana"))],
        layout=layout,
    )
    ((rejected, letter),) = [(d.rejected, d.letter) for d in p.dead_letters]
    assert letter.reason is Reason.INTERNAL_ERROR
    assert letter.detail == "ZeroDivisionError: division by zero"
    assert rejected.trace is not None and "ZeroDivisionError" in rejected.trace
    assert p.states["ana"].buckets[day("2026-06-18")].counters[c.CALLS] == 1


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+01:00"])
def test_dates_at_the_ends_of_the_calendar_are_dead_letters_not_crashes(when: str) -> None:
    """Year 9999 is in the future; year 1 is too late for any stream state."""
    body = orjson.loads(call("2026-06-18", rep="ana").model_dump_json())
    p = plan([msg(body), msg({**body, "event_id": "x", "occurred_at": when})])
    (letter,) = letters(p)
    assert letter.reason in (Reason.FUTURE, Reason.TOO_LATE)


def test_the_latest_rep_upserted_of_a_batch_goes_to_the_people_directory() -> None:
    """Per rep, the directory entry of its latest ``rep_upserted`` by (occurred_at, id),
    whatever the order in the batch; a redelivered one too (its write may be what a crash
    lost); other events leave the directory alone."""
    newer = directory("2026-06-10", "north", email="ana@x.com", manager_email="mia@x.com")
    older = directory("2026-06-01", "south", email="ana@old.com")
    p = plan([msg(newer), msg(older), msg(call("2026-06-18", rep="bob"))])
    assert set(p.directory) == {"ana"}
    entry = p.directory["ana"].entry
    assert (entry.team_id, entry.email, entry.manager_email) == ("north", "ana@x.com", "mia@x.com")
    assert p.directory["ana"].key[1] == newer.event_id
    assert plan([msg(newer)], p.states).directory["ana"].entry == entry  # a redelivery


def test_the_scoring_is_timed_by_the_clock_given_score_rep_apart() -> None:
    """A clock that ticks once a call: each rep's ``score_rep`` is one tick of ``score_s``,
    inside ``scoring_s`` (totals, rules, cards); without a clock both are 0."""
    ticks = itertools.count()
    events = [msg(call("2026-06-18", rep=rep)) for rep in ("ana", "bob")]
    timed = plan(events, cpu=lambda: float(next(ticks)))
    assert len(timed.scored) == 2
    assert timed.score_s == 2.0 and timed.scoring_s > timed.score_s
    untimed = plan(events)
    assert untimed.score_s == untimed.scoring_s == 0.0
