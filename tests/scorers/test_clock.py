"""The event clock as a watermark: the slowest partition that still has unread messages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scorers.clock import EventClock, advanced

TODAY = 740_000


def test_a_topic_read_ahead_does_not_move_the_clock_past_one_still_behind() -> None:
    """Deals read up to day 50 while calls are at day 10 with more unread: as of day 10."""
    clock = advanced(EventClock(), {"crm.deals|0": 50, "crm.calls|0": 10}, {"crm.calls|0"}, TODAY)
    assert clock.as_of == 10
    caught_up = advanced(clock, {"crm.calls|0": 49}, set(), TODAY)
    assert caught_up.as_of == 50  # nothing unread: the latest day of all


def test_an_idle_partition_does_not_hold_the_clock_back() -> None:
    """crm.reps last changed on day 3 and has nothing unread: it does not count."""
    clock = advanced(EventClock(), {"crm.reps|0": 3, "crm.calls|0": 40}, {"crm.calls|0"}, TODAY)
    assert clock.as_of == 40


def test_a_partition_never_read_is_not_waited_for() -> None:
    clock = advanced(EventClock(), {"crm.calls|0": 40}, {"crm.calls|0", "crm.deals|1"}, TODAY)
    assert clock.as_of == 40


def test_the_clock_never_goes_back_and_never_passes_today() -> None:
    clock = advanced(EventClock(), {"crm.calls|0": 40}, set(), TODAY)
    behind = advanced(clock, {"crm.deals|0": 30}, {"crm.deals|0"}, TODAY)
    assert behind.as_of == 40
    tomorrow = advanced(clock, {"crm.calls|0": TODAY + 1}, set(), TODAY)
    assert tomorrow.as_of == TODAY
    assert tomorrow.latest["crm.calls|0"] == TODAY + 1


@given(
    st.lists(
        st.tuples(st.sampled_from(["a|0", "b|0", "c|1"]), st.integers(1, 500), st.booleans()),
        max_size=30,
    )
)
def test_the_clock_is_monotonic_and_at_most_the_latest_day_read(
    steps: list[tuple[str, int, bool]],
) -> None:
    clock = EventClock()
    latest = 0
    for source, day, lagging in steps:
        before = clock.as_of
        clock = advanced(clock, {source: day}, {source} if lagging else set(), TODAY)
        latest = max(latest, day)
        assert clock.as_of is not None and clock.as_of <= latest
        assert before is None or clock.as_of >= before
