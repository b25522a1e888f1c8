"""What every fault shares: the base class, triggers, the spec wrapper, and
the field helpers whose metadata is the YAML schema of a fault's parameters.

A fault's dataclass fields are its parameters: ``parse.py`` reads a fault's
mapping against ``dataclasses.fields(cls)``, so the docs, the parser and the
object cannot drift apart. Durations are float seconds in the fields, as the
scenario says them; ``at_speed`` makes the fault as it runs at ``--speed``,
once, when a response is planned.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import events
from ..script import Script


@dataclass(frozen=True, slots=True)
class Context:
    """What a fault may use besides the script: the response's seeded generator."""

    rng: random.Random


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a triggered fault acts: before beat ``index``, at time ``at``."""

    index: int
    at: float
    before_headers: bool = False


@dataclass(frozen=True, slots=True)
class Trigger:
    """``after: N`` content tokens, ``after: done``, ``at: DURATION`` or ``before: headers``."""

    after: int | None = None
    done: bool = False
    at: float | None = None
    before_headers: bool = False

    def at_speed(self, speed: float) -> Trigger:
        return self if self.at is None else dataclasses.replace(self, at=self.at / speed)

    def locate(self, script: Script) -> Cut | None:
        """Where the fault acts; None when it does not act on this script."""
        beats = script.beats
        if self.before_headers:
            return Cut(0, script.headers_at, before_headers=True)
        if self.at is not None:
            at = script.headers_at + self.at
            index = next((i for i, beat in enumerate(beats) if beat.at >= at), len(beats))
            return Cut(index, at)
        if self.done:
            index = max((i + 1 for i, beat in enumerate(beats) if beat.is_done), default=len(beats))
            return Cut(index, _time_after(script, index))
        wanted = self.after or 0
        seen = 0
        last_content = -1
        for i, beat in enumerate(beats):
            if beat.tokens:
                if seen >= wanted:
                    return Cut(i, beat.at)
                seen += beat.tokens
                last_content = i
        if script.resumed and seen < wanted:
            return None  # a resume with fewer tokens left than the trigger waits for
        # Fewer tokens than asked for: act right after the last one.
        index = last_content + 1 if last_content >= 0 else _first_after_opening(script)
        return Cut(index, _time_after(script, index))

    def describe(self) -> str:
        if self.before_headers:
            return "before=headers"
        if self.at is not None:
            return f"at={self.at:g}s"
        return "after=done" if self.done else f"after={self.after or 0}"


def _first_after_opening(script: Script) -> int:
    opens = bool(script.beats) and isinstance(script.beats[0].event, events.Start)
    return 1 if opens else 0


def _time_after(script: Script, index: int) -> float:
    beats = script.beats
    if index < len(beats):
        return beats[index].at
    return beats[-1].at if beats else script.headers_at


@dataclass(frozen=True, slots=True)
class Fault:
    """A transform of a script. Subclasses are frozen dataclasses registered in
    ``FAULTS``; their fields (made with the helpers below) are their parameters."""

    name: ClassVar[str]
    triggered: ClassVar[bool] = False  # takes after / at / before
    stream_only: ClassVar[bool] = True  # ignored for ``stream: false``
    can_precede_headers: ClassVar[bool] = False  # accepts ``before: headers``
    default_trigger: ClassVar[Trigger] = Trigger(after=0)
    always_shown: ClassVar[tuple[str, ...]] = ()  # parameters a label names even at their default

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        raise NotImplementedError

    def at_speed(self, speed: float) -> Fault:
        """The fault as it runs at ``speed``: durations divided, rates
        multiplied, as the fields' metadata says."""
        changes: dict[str, float] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            scale = f.metadata.get("speed")
            if value is not None and scale:
                changes[f.name] = value * speed if scale == "multiply" else value / speed
        return dataclasses.replace(self, **changes) if changes else self

    def acts_before_body(self, trigger: Trigger) -> bool:
        """Whether the fault still applies to a non-streamed response."""
        return not self.stream_only

    def describe(self, trigger: str = "") -> str:
        """``name(trigger,key=value,...)``: the parameters that differ from their
        defaults, and those in ``always_shown``."""
        params = [trigger] if trigger else []
        params += [
            f"{f.metadata.get('key', f.name)}={_show(getattr(self, f.name))}"
            for f in dataclasses.fields(self)
            if f.name in self.always_shown or getattr(self, f.name) != f.default
        ]
        return f"{self.name}({','.join(params)})" if params else self.name


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}s"
    if isinstance(value, tuple):
        return "{" + ",".join(f"{_show(k)}:{_show(v)}" for k, v in value) + "}"
    # Labels travel in the X-Mockllm-Faults header: ASCII, on one line.
    return str(value).encode("unicode_escape").decode("ascii")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault as written in a scenario: the fault, when it acts, how often."""

    fault: Fault
    trigger: Trigger | None = None
    probability: float = 1.0
    label: str | None = None  # what ``describe`` says, kept from the spec as written

    def at_speed(self, speed: float) -> FaultSpec:
        """The spec as it runs at ``speed``, still labelled as written."""
        if speed == 1:
            return self
        trigger = self.trigger.at_speed(speed) if self.trigger is not None else None
        return FaultSpec(self.fault.at_speed(speed), trigger, self.probability, self.describe())

    def describe(self) -> str:
        if self.label is not None:
            return self.label
        trigger = self.trigger
        shown = trigger is not None and trigger != self.fault.default_trigger
        return self.fault.describe(trigger.describe() if trigger is not None and shown else "")


# -- field helpers: the metadata is the schema parse.py reads ----------------

def duration(
    default: Any = dataclasses.MISSING, *, key: str | None = None, forever: bool = False, scaled: bool = True,
    doc: str = "",
) -> Any:
    """Seconds; written as 250ms, 1.5s, 2m or a number. ``forever`` allows
    ``forever`` (None). ``scaled``: divided by ``--speed`` (not for a property
    of the transport)."""
    meta = _meta("duration", key, doc, forever=forever)
    if scaled:
        meta["speed"] = "divide"
    return dataclasses.field(default=default, metadata=meta)


def count(default: Any = dataclasses.MISSING, *, minimum: int = 0, per_second: bool = False, doc: str = "") -> Any:
    """A whole number; ``per_second``: a rate, multiplied by ``--speed``."""
    meta = _meta("count", None, doc, minimum=minimum)
    if per_second:
        meta["speed"] = "multiply"
    return dataclasses.field(default=default, metadata=meta)


def choice(options: Sequence[str], default: Any = dataclasses.MISSING, *, doc: str = "") -> Any:
    return dataclasses.field(default=default, metadata=_meta("choice", None, doc, options=tuple(options)))


def text(default: Any = dataclasses.MISSING, *, header: bool = False, doc: str = "") -> Any:
    """A string; ``header``: sent as a header value, so no control characters."""
    return dataclasses.field(default=default, metadata=_meta("text", None, doc, header=header))


def http_status(default: Any = dataclasses.MISSING, *, doc: str = "") -> Any:
    """An HTTP status sent with a body: 200 to 599, but not 204 or 304."""
    return dataclasses.field(default=default, metadata=_meta("status", None, doc))


def headers(doc: str = "") -> Any:
    """Header names to string values, as ``((name, value), ...)``; a null value
    removes a header the fault would send by default."""
    return dataclasses.field(default=(), metadata=_meta("headers", None, doc))


def _meta(kind: str, key: str | None, doc: str, **extra: Any) -> dict[str, Any]:
    meta = {"kind": kind, "doc": doc, **extra}
    if key:
        meta["key"] = key
    return meta
