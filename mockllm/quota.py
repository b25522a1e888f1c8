"""Rate limits on clients: a scenario's ``quota:`` or the server's ``--quota``,
kept as token buckets per (scenario, client), that count requests and the
tokens ``usage`` reports (prompt + completion).

    request ──Quotas.charge(scenario, client, quota, cost, now)──▶ Budget
    Budget ──Dialect.rate_limit_headers──▶ the provider's own headers
    Budget.refused ──▶ a 429 whose retry-after is Budget.retry_after

Pure values: every call is given the time, so a bucket is stepped through in
a unit test. The buckets run on the server's clock times ``--speed``, and
every wait a ``Budget`` states is in real seconds, so a suite at speed 100
sees what a client at speed 1 sees, a hundred times sooner. Nothing here
knows a header name: each dialect renders a ``Budget`` its provider's way.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

PER = ("api_key", "session")  # whose requests share a bucket
WINDOW = 60.0  # seconds a per-minute limit refills in, from empty
# (scenario, client, quota) triples remembered; past this, the one unused
# longest is forgotten (its next request finds full buckets).
MAX_CLIENTS = 100_000
EPSILON = 1e-9  # tokens


@dataclass(frozen=True, slots=True)
class Quota:
    """Requests and tokens per minute (either may be unlimited, not both)."""

    rpm: int | None = None
    tpm: int | None = None
    per: str = "api_key"

    def __post_init__(self) -> None:
        if self.rpm is None and self.tpm is None:
            raise ValueError("a quota needs rpm, tpm or both")
        for name, limit in (("rpm", self.rpm), ("tpm", self.tpm)):
            if limit is not None and limit < 1:
                raise ValueError(f"{name}: expected a whole number of at least 1, got {limit}")
        if self.per not in PER:
            raise ValueError(f"per: expected one of {', '.join(PER)}, got {self.per!r}")


def parse_spec(text: str) -> Quota:
    """``rpm=60,tpm=40000,per=session`` -> Quota; ValueError says what is wrong."""
    given: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name not in ("rpm", "tpm", "per"):
            raise ValueError(f"expected rpm=N, tpm=N or per={'|'.join(PER)}, got {item!r}")
        given[name] = value.strip()
    limits: dict[str, int] = {}
    for name in ("rpm", "tpm"):
        if name in given:
            if not given[name].isdigit():
                raise ValueError(f"{name}: expected a whole number of at least 1, got {given[name]!r}")
            limits[name] = int(given[name])
    return Quota(**limits, per=given.get("per", "api_key"))


@dataclass(frozen=True, slots=True)
class Bucket:
    """``level`` tokens of ``capacity`` at time ``at`` (seconds); it refills
    continuously, the whole capacity in a minute."""

    capacity: int
    level: float
    at: float

    @classmethod
    def full(cls, capacity: int, now: float) -> Bucket:
        return cls(capacity, float(capacity), now)

    @property
    def rate(self) -> float:
        return self.capacity / WINDOW

    def at_time(self, now: float) -> Bucket:
        level = min(self.capacity, self.level + max(0.0, now - self.at) * self.rate)
        return Bucket(self.capacity, level, max(now, self.at))

    def wait(self, cost: int) -> float:
        """Seconds until ``cost`` tokens are in the bucket (0: now)."""
        missing = cost - self.level
        # A client that waited exactly the time it was told must not miss by a rounding error.
        return missing / self.rate if missing > EPSILON else 0.0

    def taken(self, cost: int) -> Bucket:
        return dataclasses.replace(self, level=self.level - cost)

    @property
    def until_full(self) -> float:
        return (self.capacity - self.level) / self.rate


@dataclass(frozen=True, slots=True)
class Allowance:
    """What one limit has left after a request; ``reset`` in real seconds."""

    limit: int
    remaining: int
    reset: float


@dataclass(frozen=True, slots=True)
class Budget:
    """What a client has left, as its provider's headers tell it.

    ``refused``: the limit that refused the request (``"requests"`` or
    ``"tokens"``), None when it was admitted. ``retry_after``: real seconds
    until a retry fits, None when admitted or when the request is larger
    than the limit itself and never fits."""

    requests: Allowance | None
    tokens: Allowance | None
    refused: str | None = None
    retry_after: float | None = None
    requested: int = 0  # tokens the request costs

    @property
    def message(self) -> str:
        """A refusal in words, with the real numbers."""
        allowance = self.requests if self.refused == "requests" else self.tokens
        assert self.refused is not None and allowance is not None, "only a refusal has a message"
        asked = 1 if self.refused == "requests" else self.requested
        if self.retry_after is None:
            return (f"Request too large for {self.refused} per minute: limit {allowance.limit}, "
                    f"requested {asked}. No retry will fit: make the request smaller.")
        return (f"Rate limit reached for {self.refused} per minute: limit {allowance.limit}, "
                f"remaining {allowance.remaining}, requested {asked}. "
                f"Please try again in {math.ceil(self.retry_after * 1000) / 1000:g}s.")


def client_of(quota: Quota, session: str, headers: Mapping[str, str]) -> str:
    """Whose bucket a request draws on: its session, or the API key it sends
    (any format's credential header; requests without one share a bucket)."""
    if quota.per == "session":
        return session
    bearer = headers.get("Authorization", "")
    return bearer.removeprefix("Bearer ") or headers.get("x-api-key") or headers.get("x-goog-api-key") or ""


class Quotas:
    """The buckets of every (scenario, client, quota) seen: a quota changed by
    a reload starts with full buckets. ``speed`` is the server's ``--speed``."""

    def __init__(self, speed: float = 1.0, limit: int = MAX_CLIENTS) -> None:
        self._speed = speed
        self._limit = limit
        self._buckets: OrderedDict[tuple[str, str, Quota], tuple[Bucket | None, Bucket | None]] = OrderedDict()

    def charge(self, scenario: str, client: str, quota: Quota, cost: int, now: float) -> Budget:
        """Admit one request costing ``cost`` tokens at ``now`` (real seconds
        on any steady clock), or refuse it, taking nothing, when either limit
        has too little left."""
        key = (scenario, client, quota)
        stored = self._buckets.pop(key, None) or (None, None)
        requests, tokens, refused, wait = step(stored, quota, cost, now * self._speed)
        self._buckets[key] = (requests, tokens)  # now the most recently used
        if len(self._buckets) > self._limit:
            self._buckets.popitem(last=False)
        return budget_of(requests, tokens, refused, wait, cost, self._speed)

    def reset(self) -> None:
        self._buckets.clear()


def step(stored: tuple[Bucket | None, Bucket | None], quota: Quota, cost: int, clock: float
         ) -> tuple[Bucket | None, Bucket | None, str | None, float | None]:
    """A request costing ``cost`` at bucket time ``clock`` against the buckets
    ``stored`` (None: never used, so full): the buckets after it, the limit
    that refused it (None: admitted, and both buckets paid) and the bucket-time
    wait until it would fit (None: admitted, or it never will). The shared
    store (stores/redis_store.py) runs the same arithmetic in Lua."""
    requests, tokens = (_refilled(bucket, limit, clock) for bucket, limit in zip(stored, (quota.rpm, quota.tpm)))
    refused, wait = _shortfall(requests, tokens, cost)
    if refused is None:
        requests = None if requests is None else requests.taken(1)
        tokens = None if tokens is None else tokens.taken(cost)
    return requests, tokens, refused, wait


def budget_of(requests: Bucket | None, tokens: Bucket | None, refused: str | None, wait: float | None,
              cost: int, speed: float) -> Budget:
    """What the buckets after a request tell its client, in real seconds."""
    def real(seconds: float) -> float:
        # To the microsecond: rounding a wait up to whole seconds must not add one for a float's last bit.
        return round(seconds / speed, 6)

    def allowance(bucket: Bucket | None) -> Allowance | None:
        if bucket is None:
            return None
        return Allowance(bucket.capacity, max(0, int(bucket.level + EPSILON)), real(bucket.until_full))

    return Budget(allowance(requests), allowance(tokens), refused, None if wait is None else real(wait), cost)


def _refilled(bucket: Bucket | None, limit: int | None, clock: float) -> Bucket | None:
    if limit is None:
        return None
    return bucket.at_time(clock) if bucket is not None else Bucket.full(limit, clock)


def _shortfall(requests: Bucket | None, tokens: Bucket | None, cost: int) -> tuple[str | None, float | None]:
    """The limit that refuses a request and the bucket-time wait until it
    would not (None: it never will); ``(None, None)`` when both admit it."""
    if tokens is not None and cost > tokens.capacity:
        return "tokens", None
    waits = [(name, bucket.wait(need)) for name, bucket, need in (("requests", requests, 1), ("tokens", tokens, cost))
             if bucket is not None]
    name, wait = max(waits, key=lambda pair: pair[1])
    return (name, wait) if wait > 0 else (None, None)
