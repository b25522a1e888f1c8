"""Seeded chaos: random faults drawn per response, for soak-testing reconnect logic.

    serve --chaos drop=0.1,stall=0.05        or, in a scenario:   chaos: {drop: 0.1}

Each listed fault is drawn with its probability from the response's seeded
generator, with random parameters where a fault has ones worth varying (where
in the reply it strikes, reset or close, which status, which breakage), so the
same requests to a fresh server with the same seed meet the same faults.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from .base import Fault, FaultSpec, Trigger
from .body import Drop, Malformed, Stall
from .head import Status

STATUS_CODES = (429, 500, 502, 503)
STALL_SECONDS = (1.0, 10.0)
# A live reply's length is unknown when chaos draws for it (the proxy's): a
# triggered fault strikes within this many tokens, or where a shorter one ends.
LIVE_TOKENS = 20  # a drawn stall lasts this long, at random


@dataclass(frozen=True, slots=True)
class Chaos:
    odds: tuple[tuple[str, float], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.odds)

    def __add__(self, other: Chaos | None) -> Chaos:
        return Chaos(self.odds + other.odds) if other else self


NO_CHAOS = Chaos()  # no fault drawn: the default everywhere


def parse_spec(text: str, known: Iterable[str]) -> Chaos:
    """``drop=0.1,stall=0.05`` -> Chaos; ValueError says what is wrong."""
    known = tuple(known)
    odds = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=PROBABILITY, got {item!r}")
        if name not in known:
            raise ValueError(f"unknown fault {name!r} (known: {', '.join(known)})")
        try:
            probability = float(value)
        except ValueError:
            raise ValueError(f"{name}: expected a probability from 0 to 1, got {value!r}") from None
        if not 0 <= probability <= 1:
            raise ValueError(f"{name}: expected a probability from 0 to 1, got {value!r}")
        odds.append((name, probability))
    return Chaos(tuple(odds))


def draw(chaos: Chaos, tokens: int, faults: dict[str, type[Fault]], rng: random.Random) -> list[FaultSpec]:
    """The faults chaos picks for one response of ``tokens`` content tokens
    (where in it a triggered fault strikes is drawn from them)."""
    if not chaos:
        return []
    picked = []
    for name, probability in chaos.odds:
        if rng.random() < probability:
            picked.append(_random_spec(faults[name], tokens, rng))
    return picked


def _random_spec(cls: type[Fault], tokens: int, rng: random.Random) -> FaultSpec:
    trigger = Trigger(after=rng.randint(0, tokens)) if cls.triggered else None
    if cls is Drop:
        fault: Fault = Drop(mode=rng.choice(("reset", "close")))
    elif cls is Stall:
        fault = Stall(seconds=round(rng.uniform(*STALL_SECONDS), 1))
    elif cls is Malformed:
        fault = Malformed(kind=rng.choice(Malformed.__dataclass_fields__["kind"].metadata["options"]))
    elif cls is Status:
        fault = Status(code=rng.choice(STATUS_CODES))
    else:
        fault = cls()
    return FaultSpec(fault, trigger)
