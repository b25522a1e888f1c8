"""Faults: small pure transforms of a compiled ``Script``, like toxics in a proxy.

``FAULTS`` maps each name a scenario may use to its class; ``apply`` runs the
faults chosen for one response over its script, always in ``ORDER``:

    event edits ─▶ cuts and stalls ─▶ bytes and framing ─▶ pacing ─▶ head

Event edits come first, while each beat is still one whole event; a cut then
decides what is sent at all; framing faults rewrite the bytes that remain;
pacing re-times the writes; head faults (a status or a proxy page instead
of the stream) come last so that they win over everything else.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..script import Script
from .base import Context, Cut, Fault, FaultSpec, Trigger
from .body import Drop, DuplicateDone, ErrorEvent, Malformed, NoDone, NoFinish, Stall
from .framing import Bandwidth, Bom, Coalesce, Fragment, LineEndings
from .head import ContentType, SlowHeaders, Status

ORDER: tuple[type[Fault], ...] = (
    NoFinish,
    NoDone,
    DuplicateDone,
    Malformed,
    ErrorEvent,
    Stall,
    Drop,
    Bom,
    LineEndings,
    Coalesce,
    Fragment,
    Bandwidth,
    SlowHeaders,
    ContentType,
    Status,
)

FAULTS: dict[str, type[Fault]] = {cls.name: cls for cls in ORDER}

__all__ = ["FAULTS", "ORDER", "Context", "Cut", "Fault", "FaultSpec", "Trigger", "apply"]


def apply(script: Script, specs: Sequence[FaultSpec], rng: random.Random) -> Script:
    """Run the faults whose probability draw succeeds over ``script``, in ``ORDER``.

    Every probability is drawn, in the order written, whether or not the fault
    then applies, so one fault's outcome never shifts another's draws. Faults
    that only make sense in a stream are skipped for ``stream: false`` and
    listed in ``Script.ignored``.
    """
    ctx = Context(rng)
    chosen = [spec for spec in specs if rng.random() < spec.probability]
    if chosen:
        script = script.materialized()  # faults rewrite the bytes that go out
    applied: list[str] = []
    ignored: list[str] = []
    for spec in sorted(chosen, key=lambda s: ORDER.index(type(s.fault))):
        trigger = spec.trigger or spec.fault.default_trigger
        if not script.streaming and not spec.fault.acts_before_body(trigger):
            ignored.append(spec.describe())
            continue
        cut = trigger.locate(script)
        if cut is None:
            continue  # the trigger is past what this script has to send
        script = spec.fault.apply(script, cut, ctx)
        applied.append(spec.describe())
    if not applied and not ignored:
        return script
    return script.labelled(tuple(applied), tuple(ignored))
