"""Sessions and attempt counters, for scenarios that fail N times, then succeed."""

from __future__ import annotations

from collections import OrderedDict

# (session, scenario) pairs remembered. Every client may name a session of
# its own, so the counters are bounded: past this, the pair unused longest is
# forgotten (its next attempt counts as a first one again).
MAX_SESSIONS = 100_000


def session_key(header: str | None, query: str | None, peer: str | None) -> str:
    """``X-Mockllm-Session``, else the ``session`` query parameter, else the client address."""
    return header or query or peer or "unknown"


class Attempts:
    """Counts attempts per (session, scenario); the first attempt is 1."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._limit = limit

    def next(self, session: str, scenario: str) -> int:
        key = (session, scenario)
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count  # now the most recently used
        if len(self._counts) > self._limit:
            self._counts.popitem(last=False)
        return count

    def reset(self) -> None:
        self._counts.clear()
