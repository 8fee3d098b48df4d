"""State values and keys round-trip through their compact wire form, and stay small."""

from __future__ import annotations

from scorers import counters as c
from scorers.state import (
    Bucket,
    DealState,
    RepProfile,
    RuleBook,
    RuleState,
    Stamped,
    event_digest,
)
from streams.worker import codec
from streams.worker.codec import Key


def test_bucket_round_trip_and_size() -> None:
    """A day's bucket is a short int array and 16 bytes an event: changelog writes stay small."""
    counters = [0] * c.WIDTH
    counters[c.CALLS], counters[c.TRAINING], counters[c.EVENTS] = 40, 123_456_789_000, 55
    ids = b"".join(event_digest(f"e{i}") for i in range(55))
    bucket = Bucket(tuple(counters), ids)
    raw = codec.encode_bucket(bucket)
    assert codec.decode_bucket(raw) == bucket
    assert len(raw) < 80 + 16 * 55


def test_digests_holding_a_newline_survive() -> None:
    """The digests are raw bytes after the first newline: a newline among them is data."""
    digest = b"\n" * 16
    bucket = Bucket((1,) + (0,) * (c.WIDTH - 1), digest + event_digest("x"))
    assert codec.decode_bucket(codec.encode_bucket(bucket)) == bucket


def test_old_bucket_is_padded_to_the_current_width() -> None:
    assert codec.decode_bucket(b"[1,2]\n").counters == (1, 2) + (0,) * (c.WIDTH - 2)


def test_deal_round_trip_and_size() -> None:
    deal = DealState(
        (1_772_000_000_000_000, "evt-123"), 739_677, "won", ((0, 1), (2, 5_000_000_000), (3, 9))
    )
    raw = codec.encode_deal(deal)
    assert codec.decode_deal(raw) == deal
    assert len(raw) < 100


def test_open_deal_round_trip_and_size() -> None:
    """A deal's amount, close day and stage keep the key of the event that set them, spelled
    out only when that is not the deciding event (a stage change without an amount)."""
    opened = (1_772_000_000_000_000, "3f2c9a4e-8d1b-4c6f-9e2a-7b5d1c0a9f11")
    staged = (1_772_500_000_000_000, "b41d7e22-0c9a-4f3e-8a61-2d9c5e7f1a33")
    deal = DealState(
        staged, 739_680, "stage_changed", (),
        amount=Stamped(opened, 12_500_000_000),
        close=Stamped(opened, 739_700),
        stage=Stamped(staged, "negotiation"),
    )  # fmt: skip
    raw = codec.encode_deal(deal)
    assert codec.decode_deal(raw) == deal
    assert len(raw) < 260
    fresh = DealState(
        opened, 739_677, "opened", (), Stamped(opened, 5_000_000), None, Stamped(opened, "open")
    )
    assert codec.decode_deal(codec.encode_deal(fresh)) == fresh
    assert len(codec.encode_deal(fresh)) < 120


def test_deal_written_before_deal_parts_reads_with_none() -> None:
    """A deal record of the older five-field form is a deal known by its outcome alone."""
    old = codec.decode_deal(b'[1772000000000000,"e1",739677,"lost",[[1,1]]]')
    assert old == DealState((1_772_000_000_000_000, "e1"), 739_677, "lost", ((1, 1),))
    assert (old.amount, old.close, old.stage) == (None, None, None)


def test_profile_and_rule_book_round_trip() -> None:
    for profile in (
        RepProfile(),
        RepProfile("Ana", 50_000.0, "north", (1, "e1"), None, None, 739_000),
        RepProfile(event_team="south", event_team_key=(5, "e9")),
    ):
        assert codec.decode_profile(codec.encode_profile(profile)) == profile
    book = RuleBook({"no_calls": RuleState(True, 739_001)}, ({"alert_id": "a1", "rule": "x"},))
    assert codec.decode_rules(codec.encode_rules(book)) == book


def test_keys_are_unambiguous_whatever_the_ids_hold() -> None:
    """Ids may hold any character, the separator of a naive "rep|deal" key included."""
    for key in (Key("deal", "a|b", "c"), Key("deal", "a", "b|c"), Key("day", "ana", 739_000),
                Key("profile", "ana"), Key("clock", "crm.calls|3")):  # fmt: skip
        assert codec.decode_key(codec.encode_key(key)) == key
    assert codec.encode_key(Key("deal", "a|b", "c")) != codec.encode_key(Key("deal", "a", "b|c"))
