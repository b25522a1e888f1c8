"""Faults that act on the bytes and how they are cut into writes: the same
content, framed or paced in ways that naive readers get wrong."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..limits import MAX_WRITES
from ..script import Beat, Script
from .base import Context, Cut, Fault, choice, count, duration

BOM = b"\xef\xbb\xbf"


def _piece_size(script: Script, size: int) -> int:
    """``size``, or larger where a response would otherwise be cut into more
    than ``MAX_WRITES`` writes: one byte a write of a megabyte stream would
    hold a million beats in memory."""
    total = sum(len(beat.data) for beat in script.beats)
    return max(size, -(-total // MAX_WRITES))


def _split(beat: Beat, size: int) -> list[Beat]:
    """A beat as pieces of ``size`` bytes; its token count goes with the last."""
    pieces = [beat.data[i : i + size] for i in range(0, len(beat.data), size)] or [b""]
    return [
        Beat(beat.at, piece, beat.tokens if i == len(pieces) - 1 else 0)
        for i, piece in enumerate(pieces)
    ]


@dataclass(frozen=True, slots=True)
class Fragment(Fault):
    """Every event in tiny writes, cut at fixed offsets regardless of line and
    UTF-8 boundaries. The pieces go ``interval`` apart so that each reaches the
    client as a read of its own; the interval is a property of the transport,
    so ``--speed`` does not shrink it. A response is cut into at most
    ``MAX_WRITES`` writes: pieces grow for a stream that long."""

    name = "fragment"

    bytes: int = count(7, minimum=1, doc="bytes per write")
    interval: float = duration(0.001, scaled=False, doc="time between the writes of one event (not scaled by --speed)")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        gap = self.interval
        size = _piece_size(script, self.bytes)
        beats: list[Beat] = []
        free = 0.0  # when the previous piece has gone
        for beat in script.beats:
            for piece in _split(beat, size):
                at = max(beat.at, free)
                beats.append(piece._replace(at=at))
                free = at + gap
        return _retimed(script, beats)


@dataclass(frozen=True, slots=True)
class Coalesce(Fault):
    """Many events in one write: each group of ``events`` goes out together,
    when its last event is due."""

    name = "coalesce"

    events: int = count(10, minimum=1, doc="events per write")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        groups = [script.beats[i : i + self.events] for i in range(0, len(script.beats), self.events)]
        beats = tuple(
            Beat(group[-1].at, b"".join(b.data for b in group), sum(b.tokens for b in group))
            for group in groups
        )
        return dataclasses.replace(script, beats=beats)


@dataclass(frozen=True, slots=True)
class Bandwidth(Fault):
    """A slow pipe: no more than ``bytes_per_second`` leave the server, in at
    most ``MAX_WRITES`` writes."""

    name = "bandwidth"

    bytes_per_second: float = count(200, minimum=1, per_second=True, doc="the pipe's rate")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        rate = self.bytes_per_second
        size = _piece_size(script, max(1, int(rate // 50)))  # one write per 20 ms of pipe time
        beats: list[Beat] = []
        free = script.headers_at
        for beat in script.beats:
            for piece in _split(beat, size):
                at = max(beat.at, free)
                beats.append(piece._replace(at=at))
                free = at + len(piece.data) / rate
        return _retimed(script, beats)


@dataclass(frozen=True, slots=True)
class Bom(Fault):
    """A UTF-8 byte-order mark before the first event: legal SSE, but the
    Python SDK then loses that event."""

    name = "bom"

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        if not script.beats:
            return script
        first = script.beats[0]
        return script.replaced(0, (first._replace(data=BOM + first.data),))


@dataclass(frozen=True, slots=True)
class LineEndings(Fault):
    """CRLF or bare CR instead of LF: legal SSE that naive parsers mishandle."""

    name = "line_endings"

    style: str = choice(("crlf", "cr"), "crlf", doc="crlf or cr")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        ending = b"\r\n" if self.style == "crlf" else b"\r"
        beats = tuple(b._replace(data=b.data.replace(b"\n", ending)) for b in script.beats)
        # A stall's endless heartbeats are bytes of the stream too.
        keepalive = script.keepalive and (script.keepalive[0], script.keepalive[1].replace(b"\n", ending))
        return dataclasses.replace(script, beats=beats, keepalive=keepalive)


def _retimed(script: Script, beats: list[Beat]) -> Script:
    """New beats; the end moves back if the last write now goes later."""
    end_at = script.end_at
    if end_at is not None and beats and beats[-1].at > end_at:
        end_at = beats[-1].at
    return dataclasses.replace(script, beats=tuple(beats), end_at=end_at)
