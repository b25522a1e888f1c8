"""Sessions and attempt counters, for scenarios that fail N times, then succeed."""

from __future__ import annotations

from collections import Counter


def session_key(header: str | None, query: str | None, peer: str | None) -> str:
    """``X-Mockllm-Session``, else the ``session`` query parameter, else the client address."""
    return header or query or peer or "unknown"


class Attempts:
    """Counts attempts per (session, scenario); the first attempt is 1."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def next(self, session: str, scenario: str) -> int:
        self._counts[session, scenario] += 1
        return self._counts[session, scenario]

    def reset(self) -> None:
        self._counts.clear()
