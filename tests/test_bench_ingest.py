"""The ingest benchmark's batching (scripts/bench_ingest.py): every event posted once, in
order, in NDJSON bodies of at most the batch size, each with its true count."""

from __future__ import annotations

import sys

from tests.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_ingest import ndjson_batches


def test_batches_carry_every_line_once_in_order_with_their_counts() -> None:
    lines = [b'{"n": %d}' % n for n in range(7)]
    batches = ndjson_batches(lines, 3)
    assert [size for size, _ in batches] == [3, 3, 1]
    assert all(body.endswith(b"\n") for _, body in batches)
    posted = [line for _, body in batches for line in body.splitlines()]
    assert posted == lines
    assert [size for size, body in batches] == [len(body.splitlines()) for _, body in batches]
