"""State values and keys round-trip through their compact wire form, and stay small."""

from __future__ import annotations

from scorers import counters as c
from scorers.state import Bucket, DealState, RepProfile, RuleBook, RuleState, event_digest
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
