"""The pure half of answering a request: scenario + ask -> the final script.

Shared by the server and ``mockllm play``, so ``play`` prints exactly what a
client would receive for the same seed, session and attempt.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from . import faults, script
from .dialects import Ask, Dialect
from .faults.chaos import NO_CHAOS, Chaos
from .scenario import Scenario

# A route's own change to the compiled script, given the scenario as it runs.
Reshape = Callable[[script.Script, Scenario], script.Script]


def response_rng(seed: int, scenario: Scenario, session: str, attempt: int) -> random.Random:
    """The generator of one response: reruns reproduce; scenarios, sessions and
    attempts differ."""
    key = f"{seed}:{scenario.key}:{scenario.seed}:{session}:{attempt}"
    # A session header that is not UTF-8 reaches us with surrogate escapes.
    return random.Random(key.encode("utf-8", "surrogateescape"))


def plan(
    scenario: Scenario,
    ask: Ask,
    dialect: Dialect,
    *,
    seed: int = 0,
    session: str = "play",
    attempt: int = 1,
    speed: float = 1.0,
    created: int = 0,
    chaos: Chaos = NO_CHAOS,
    reshape: Reshape | None = None,
    settle: Callable[[script.Script, script.Script], script.Script] | None = None,
    framed: bool = False,
) -> script.Script:
    """The script for one response: the scenario at ``speed`` (the one place
    ``--speed`` applies), compiled, reshaped for its route with that scenario
    (ids, retry and resume for EventSource), then the attempt's faults and any drawn by chaos
    (the server's ``--chaos`` and the scenario's own), then settled by the
    route once the faults are known, from the script before them and after
    (EventSource: nothing left is a 204).

    ``framed``: the player asks to keep the script framed (``Script.framed``)
    when nothing rewrites its bytes; everyone else gets the final bytes."""
    rng = response_rng(seed, scenario, session, attempt)
    run = scenario.at_speed(speed)
    compiled = script.compile(run, ask, dialect, rng=rng, created=created)
    if reshape is not None:
        compiled = reshape(compiled, run)
    chaos_seed = rng.getrandbits(64)  # drawn always, so chaos never shifts other draws
    chaos = chaos + scenario.chaos
    drawn = []
    if chaos:
        tokens = sum(beat.tokens for beat in compiled.beats)
        drawn = faults.chaos.draw(chaos, tokens, faults.FAULTS, random.Random(chaos_seed))
    final = faults.apply(compiled, [*run.faults_for(attempt), *(spec.at_speed(speed) for spec in drawn)], rng)
    if not framed:
        final = final.materialized()
    return settle(final, compiled) if settle is not None else final
