"""Faults: small pure transforms of a compiled ``Script``.

The catalogue lives in ``FAULTS`` (name -> fault class); ``apply`` runs the
faults chosen for one response over its script, in ``ORDER``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..script import Script


class Fault:
    """A transform of a script; subclasses are frozen dataclasses."""

    def apply(self, script: Script, rng: random.Random) -> Script:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault as written in a scenario, with the knobs every fault shares."""

    fault: Fault
    probability: float = 1.0


FAULTS: dict[str, type[Fault]] = {}


def apply(script: Script, specs: Sequence[FaultSpec], rng: random.Random) -> Script:
    """Run each fault whose probability draw succeeds over the script."""
    for spec in specs:
        if spec.probability >= 1.0 or rng.random() < spec.probability:
            script = spec.fault.apply(script, rng)
    return script
