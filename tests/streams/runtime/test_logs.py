"""The repeat filter on library log lines (aiokafka while Kafka is away)."""

from __future__ import annotations

import logging

from streams.runtime.logs import RepeatFilter


def record(msg: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_message_passes_once_per_window_with_the_count_held_back() -> None:
    now = [0.0]
    repeats = RepeatFilter(window_s=10.0, clock=lambda: now[0])
    assert repeats.filter(record("Unable connect to node with id %s: %s", 1, "refused"))
    for second in range(1, 10):
        now[0] = float(second)
        assert not repeats.filter(record("Unable connect to node with id %s: %s", 1, "x"))
    other = record("Unable to update metadata from %s", [1])
    assert repeats.filter(other), "another template is not held back by the first"
    assert repeats.filter(record("Unable connect", name="mode")), "nor another logger's"
    now[0] = 10.0
    again = record("Unable connect to node with id %s: %s", 1, "refused")
    assert repeats.filter(again)
    assert (
        again.getMessage()
        == "Unable connect to node with id 1: refused (9 more like this held back)"
    )
    now[0] = 25.0
    quiet = record("Unable connect to node with id %s: %s", 1, "refused")
    assert repeats.filter(quiet)
    assert quiet.getMessage() == "Unable connect to node with id 1: refused"


def test_messages_formatted_before_logging_do_not_pile_up() -> None:
    now = [0.0]
    repeats = RepeatFilter(window_s=1.0, clock=lambda: now[0])
    for i in range(5000):
        now[0] = i * 0.01
        repeats.filter(record(f"Timer overlapping (runtime={i})"))
    assert len(repeats._seen) <= 1001
