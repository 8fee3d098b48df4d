"""Whether a server of ours answers over HTTP yet, for tests that start one."""

from __future__ import annotations

import httpx


def answers(url: str) -> bool:
    """``url`` answers 200 (no answer or an error answer: not yet)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
