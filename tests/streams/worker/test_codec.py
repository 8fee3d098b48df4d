"""State values round-trip through their compact wire form, and stay small."""

from __future__ import annotations

from scorers import counters as c
from scorers.state import DealOutcome, RepProfile
from streams.worker import codec


def test_bucket_round_trip_and_size() -> None:
    """A busy day's bucket is a short int array: changelog writes stay small."""
    bucket = c.zero()
    bucket[c.CALLS], bucket[c.REVENUE], bucket[c.EVENTS] = 40, 123_456_789_000, 55
    raw = codec.encode_bucket(bucket)
    assert codec.decode_bucket(raw) == bucket
    assert len(raw) < 80


def test_old_bucket_is_padded_to_the_current_width() -> None:
    assert codec.decode_bucket(b"[1,2]") == [1, 2] + [0] * (c.WIDTH - 2)


def test_deal_round_trip_and_size() -> None:
    deal = DealOutcome(
        (1_772_000_000_000_000, "evt-123"), 739_677, "won", ((0, 1), (2, 5_000_000_000), (3, 9))
    )
    raw = codec.encode_deal(deal)
    assert codec.decode_deal(raw) == deal
    assert len(raw) < 100


def test_profile_round_trip() -> None:
    for profile in (
        RepProfile(),
        RepProfile("Ana", 50_000.0, "north", (1, "e1"), None, None),
        RepProfile(event_team="south", event_team_key=(5, "e9")),
    ):
        assert codec.decode_profile(codec.encode_profile(profile)) == profile
