"""Faults on a stream that is still arriving: what ``mockllm proxy`` applies
to a real upstream's frames.

    upstream frame ─▶ Beat ─▶ stage ─▶ stage ─▶ … ─▶ player (written as it comes)
                              one stage per chosen fault, in ``ORDER``

``faults.apply`` transforms a whole script, but a proxied response is not
whole until the upstream ends, and waiting for it would buffer the stream.
So each chosen fault becomes a stage that takes beats one at a time and
gives back those that may go out now. A stage still asks the fault's own
``apply`` what to do, on the few beats it needs, so a fault means the same
on a live stream as in a scenario (``tests/unit/test_live_faults.py`` feeds
scripts beat by beat and compares):

- ``Rolling``: faults that rewrite each beat (``no_done``, ``line_endings``), or
  pace it after the one before (``fragment``, ``bandwidth``: the last beat out
  goes in again, so the pacing carries on);
- ``Grouped``: ``coalesce``, which holds beats until it has a group;
- ``AtCut``: faults that act where their trigger falls (``drop``, ``stall``,
  ``malformed``, ``error_event``). Until then beats pass; where it falls the
  fault acts on that beat and a probe beat behind it, and what becomes of the
  probe says what becomes of the rest of the stream: gone (the stream ends
  there), moved (a stall: every later beat goes that much later) or kept.

Head faults (``status``, ``content_type``, ``slow_headers``, and ``drop`` or
``stall`` ``before: headers``) act on the response's head before the
upstream is called (``LiveFaults.head``). A trigger the stream never reaches
acts right after its last content, as on a scenario (``AtCut`` holds what
follows content until it knows), so ``drop: {after: 50}`` on a ten-token
answer cuts it before its finish. ``at:`` offsets are judged as frames
arrive: a fault ``at: 2s`` acts on the first frame at or after 2 s.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .. import events
from ..script import Beat, End, Script
from . import ORDER
from .base import Context, Cut, Fault, FaultSpec
from .body import Drop, DuplicateDone, ErrorEvent, Malformed, NoDone, NoFinish, Stall
from .framing import Bandwidth, Bom, Coalesce, Fragment, LineEndings
from .head import ContentType, SlowHeaders, Status

__all__ = ["Ending", "LiveFaults"]


@dataclass(frozen=True, slots=True)
class Ending:
    """How a live stream ends, once it has: ``Script.end``, ``end_at`` and ``keepalive``."""

    end: End = End.EOF
    at: float | None = None
    keepalive: tuple[float, bytes] | None = None

    def of(self, script: Script, beats: tuple[Beat, ...] | None = None) -> Script:
        """``script`` ending so (with ``beats`` in place of its own, when given): one copy of it."""
        if beats is None:
            beats = script.beats
        return dataclasses.replace(script, beats=beats, end=self.end, end_at=self.at, keepalive=self.keepalive)

    @classmethod
    def taken_from(cls, script: Script) -> Ending:
        return cls(script.end, script.end_at, script.keepalive)


class Stage(Protocol):
    """One fault on a live stream."""

    ended: Ending | None  # set when the fault has ended the stream: nothing more passes

    def feed(self, beat: Beat) -> list[Beat]:
        """The beats that go out now, given one more."""
        ...

    def close(self, ending: Ending) -> tuple[list[Beat], Ending]:
        """The stream has ended as ``ending`` says: the beats still held, and the ending as the fault makes it."""
        ...


class Rolling:
    """A fault applied to each beat, with the last ``keep`` beats it gave out
    going in again before it (they are not given out twice)."""

    def __init__(self, fault: Fault, base: Script, ctx: Context, keep: int = 0, once: bool = False) -> None:
        self.fault, self.base, self.ctx, self.keep, self.once = fault, base, ctx, keep, once
        self.prior: tuple[Beat, ...] = ()
        self.ended: Ending | None = None
        self.done = False  # ``once``: the fault has acted (``bom``: on the first beat only)

    def _apply(self, beats: tuple[Beat, ...], ending: Ending) -> Script:
        script = ending.of(self.base, self.prior + beats)
        return self.fault.apply(script, Cut(0, script.headers_at), self.ctx)

    def feed(self, beat: Beat) -> list[Beat]:
        if self.done:
            return [beat]
        out = self._apply((beat,), Ending()).beats[len(self.prior):]
        self.done = self.once
        if self.keep and out:
            self.prior = out[-self.keep:]
        return list(out)

    def close(self, ending: Ending) -> tuple[list[Beat], Ending]:
        if self.done:
            return [], ending
        return [], Ending.taken_from(self._apply((), ending))


class Grouped:
    """A fault applied to each group of ``size`` beats (``coalesce``), and to what is left at the end."""

    def __init__(self, fault: Fault, base: Script, ctx: Context, size: int) -> None:
        self.fault, self.base, self.ctx, self.size = fault, base, ctx, size
        self.held: list[Beat] = []
        self.ended: Ending | None = None

    def _apply(self) -> list[Beat]:
        script = dataclasses.replace(self.base, beats=tuple(self.held))
        self.held = []
        return list(self.fault.apply(script, Cut(0, script.headers_at), self.ctx).beats)

    def feed(self, beat: Beat) -> list[Beat]:
        self.held.append(beat)
        return self._apply() if len(self.held) >= self.size else []

    def close(self, ending: Ending) -> tuple[list[Beat], Ending]:
        return (self._apply() if self.held else []), ending


_PROBE = b"\x00mockllm-probe\x00"  # a beat no stream sends: where it goes, the rest of the stream goes


class AtCut:
    """A triggered fault: beats pass until its trigger falls, then it acts once.

    While an ``after: N`` trigger waits, beats without content (a block's
    end, a ping, the finish, the terminator) are held until the next content
    beat or the end of the stream, as ``Trigger.locate`` would place a cut
    with fewer tokens than asked: right after the last content token, before
    whatever follows it. A held beat goes out at most one token late."""

    def __init__(self, spec: FaultSpec, base: Script, ctx: Context) -> None:
        self.fault, self.base, self.ctx = spec.fault, base, ctx
        self.trigger = spec.trigger or spec.fault.default_trigger
        self.holds = self.trigger.at is None and not self.trigger.done
        self.held: list[Beat] = []
        self.seen = 0  # content tokens passed
        self.after_done = False  # a terminator has passed (``after: done``)
        self.last_at = base.headers_at
        self.acted = False
        self.shift = 0.0  # what the fault added to the time of every later beat
        self.ended: Ending | None = None

    def _falls(self, beat: Beat) -> Cut | None:
        trigger = self.trigger
        if trigger.at is not None:
            at = self.base.headers_at + trigger.at
            return Cut(0, at) if beat.at >= at else None
        if trigger.done:
            return Cut(0, beat.at) if self.after_done and not beat.is_done else None
        return Cut(0, beat.at) if beat.tokens and self.seen >= (trigger.after or 0) else None

    def feed(self, beat: Beat) -> list[Beat]:
        if self.acted:
            return [beat._replace(at=beat.at + self.shift)] if self.shift else [beat]
        cut = self._falls(beat)
        if cut is None:
            self.seen += beat.tokens
            self.after_done = self.after_done or beat.is_done
            self.last_at = beat.at
            if not self.holds:
                return [beat]
            if beat.tokens or (not self.held and isinstance(beat.event, events.Start)):
                passed, self.held = [*self.held, beat], []
                return passed
            self.held.append(beat)
            return []
        self.acted = True
        passed, self.held = self.held, []
        probe = Beat(beat.at, _PROBE)
        script = self.fault.apply(dataclasses.replace(self.base, beats=(beat, probe)), cut, self.ctx)
        moved = next((b for b in script.beats if b.data == _PROBE), None)
        if moved is None:
            self.ended = Ending.taken_from(script)
        else:
            self.shift = moved.at - probe.at
        return passed + [b for b in script.beats if b.data != _PROBE]

    def close(self, ending: Ending) -> tuple[list[Beat], Ending]:
        if self.acted:
            moved = ending.at + self.shift if ending.at is not None else None
            return [], dataclasses.replace(ending, at=moved)
        # The trigger never fell: the fault acts right after the last content
        # (before the beats held since), else where the stream ends.
        at = self.held[0].at if self.held else self.last_at
        rest = ending.of(self.base, tuple(self.held))
        script = self.fault.apply(rest, Cut(0, at), self.ctx)
        return list(script.beats), Ending.taken_from(script)


def _stage(spec: FaultSpec, base: Script, ctx: Context) -> Stage:
    """The stage of one chosen fault: which kind each fault is, in one place."""
    fault = spec.fault
    if isinstance(fault, (Drop, Stall, Malformed, ErrorEvent)):
        return AtCut(spec, base, ctx)
    if isinstance(fault, Coalesce):
        return Grouped(fault, base, ctx, fault.events)
    if isinstance(fault, (Fragment, Bandwidth)):
        return Rolling(fault, base, ctx, keep=1)
    if isinstance(fault, Bom):
        return Rolling(fault, base, ctx, once=True)
    assert isinstance(fault, (NoDone, NoFinish, DuplicateDone, LineEndings)), f"no live stage for {fault.name}"
    return Rolling(fault, base, ctx)


def acts_on_head(spec: FaultSpec) -> bool:
    """Whether a fault acts before the upstream is called: on the head, not the frames."""
    trigger = spec.trigger or spec.fault.default_trigger
    return isinstance(spec.fault, (Status, ContentType, SlowHeaders)) or trigger.before_headers


class LiveFaults:
    """The chosen faults of one proxied response, as stages in ``ORDER``.

        head(script) ─▶ (the upstream is called) ─▶ feed(beat)… ─▶ close()

    Probabilities are drawn as ``faults.apply`` draws them, in the order written.
    """

    def __init__(self, specs: Sequence[FaultSpec], base: Script, rng: random.Random) -> None:
        self.ctx = Context(rng)
        chosen = sorted(
            (spec for spec in specs if rng.random() < spec.probability), key=lambda s: ORDER.index(type(s.fault))
        )
        self.labels = tuple(spec.describe() for spec in chosen)
        self._head = [spec for spec in chosen if acts_on_head(spec)]
        self.streamed = [spec for spec in chosen if not acts_on_head(spec)]
        self.base = base
        self.stages = [_stage(spec, base, self.ctx) for spec in self.streamed]
        self.ending: Ending | None = None  # set once the stream has ended (a fault may end it early)

    def head(self, script: Script) -> Script:
        """The head after the head faults: an answer of its own (a status, a
        proxy page, a connection that dies or hangs) when ``answers``, else
        the head of the upstream's stream, ``headers_at`` later."""
        for spec in self._head:
            trigger = spec.trigger or spec.fault.default_trigger
            cut = Cut(0, script.headers_at, before_headers=trigger.before_headers)
            script = spec.fault.apply(script, cut, self.ctx)
        return script

    @staticmethod
    def answers(head: Script) -> bool:
        """Whether the head faults answered the request themselves, so the upstream is not called."""
        return not head.respond or not head.streaming or head.end is not End.EOF

    def feed(self, beat: Beat) -> list[Beat]:
        """The beats that go out now, given the next frame of the upstream's stream."""
        beats = [beat]
        for index, stage in enumerate(self.stages):
            out: list[Beat] = []
            for each in beats:
                out.extend(stage.feed(each))
                if stage.ended is not None:
                    return self._close(out, stage.ended, index + 1)
            beats = out
            if not beats:
                break
        return beats

    def close(self) -> list[Beat]:
        """The upstream's stream has ended: what the stages still hold; ``ending`` is then set."""
        return self._close([], Ending(), 0)

    def _close(self, beats: list[Beat], ending: Ending, start: int) -> list[Beat]:
        """``beats`` through the stages from ``start`` on, each then closed: the stream ends as ``ending`` says."""
        for stage in self.stages[start:]:
            out: list[Beat] = []
            for each in beats:
                if stage.ended is None:
                    out.extend(stage.feed(each))
            if stage.ended is not None:
                ending = stage.ended
                beats = out
                continue
            tail, ending = stage.close(ending)
            beats = out + tail
        self.ending = ending
        return beats

    @property
    def finished(self) -> bool:
        return self.ending is not None
