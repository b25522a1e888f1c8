"""Faults that act on the events of a stream: cut it, stall it, break one
event, end it with an error, or get its terminator wrong."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from .. import events, sse
from ..dialects.base import SSE, Framing
from ..script import Beat, End, Script
from .base import Context, Cut, Fault, Trigger, choice, duration, text

HEARTBEAT = sse.comment("ping")  # for a script of no known format


@dataclass(frozen=True, slots=True)
class Drop(Fault):
    """The connection dies mid-stream: no more events and no ``[DONE]``.

    ``reset`` aborts with an RST (the client reads a connection reset);
    ``close`` sends a FIN with the chunked body unfinished (a premature end).
    With ``before: headers`` the connection dies before any response, which
    the SDKs retry.
    """

    name = "drop"
    triggered = True
    can_precede_headers = True

    mode: str = choice(("reset", "close"), "reset", doc="reset (RST) or close (FIN)")

    def acts_before_body(self, trigger: Trigger) -> bool:
        return trigger.before_headers or (trigger.after == 0 and not trigger.done and trigger.at is None)

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        end = End.RESET if self.mode == "reset" else End.CLOSE
        if cut.before_headers or not script.streaming:
            return dataclasses.replace(script, respond=False, beats=(), end=end, end_at=None, keepalive=None)
        return dataclasses.replace(script, beats=script.beats[: cut.index], end=end, end_at=cut.at, keepalive=None)


@dataclass(frozen=True, slots=True)
class Stall(Fault):
    """Silence: the socket stays open and nothing is sent, or only heartbeat
    comments, which reset most clients' read timeouts."""

    name = "stall"
    triggered = True
    can_precede_headers = True

    seconds: float | None = duration(None, key="for", forever=True, doc="how long; forever (default) never resumes")
    heartbeat: float | None = duration(None, doc="send `: ping` this often while stalled")

    def acts_before_body(self, trigger: Trigger) -> bool:
        return trigger.before_headers

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        if cut.before_headers:
            # A stall before the headers is a slow (or never) answer.
            if self.seconds is None:
                return dataclasses.replace(script, respond=False, beats=(), end=End.HANG, end_at=None)
            return script.shifted(self.seconds, 0, headers=True)
        interval = self.heartbeat
        heartbeat = script.dialect.heartbeat if script.dialect is not None else HEARTBEAT
        if self.seconds is None:
            keepalive = (interval, heartbeat) if interval else None
            return dataclasses.replace(
                script, beats=script.beats[: cut.index], end=End.HANG, end_at=cut.at, keepalive=keepalive
            )
        length = self.seconds
        pings: tuple[Beat, ...] = ()
        if interval:
            count = int(length / interval - 1e-9)
            pings = tuple(Beat(cut.at + interval * k, heartbeat) for k in range(1, count + 1))
        shifted = script.shifted(length, cut.index)
        if cut.index >= len(script.beats):
            # After the last beat (``after: done``): hold the socket open, then end.
            shifted = dataclasses.replace(shifted, end_at=cut.at + length)
        return shifted.inserted(cut.index, pings)


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _broken(data: bytes, kind: str, event: events.Event | None, framing: Framing) -> bytes:
    """The frame ``data`` broken as ``kind`` says, in the format's framing."""
    head, payload, tail = framing.split(data)
    if kind == "invalid_json":
        return head + payload[:-1] + b",}" + tail  # a trailing comma: not JSON
    if kind == "truncated_json":
        return head + payload[: max(1, len(payload) // 2)] + tail
    if kind == "bad_utf8":
        return head + _bad_utf8(payload, event) + tail
    if kind == "no_data_prefix":
        return framing.misframed(head, payload, tail)
    return head + b'{"foo":"bar"}' + tail  # wrong_schema: valid JSON, not the format's event


def _bad_utf8(payload: bytes, event: events.Event | None) -> bytes:
    """Bytes that are not UTF-8 inside the string the event carries (a token's
    text, a call's arguments), wherever the format puts it; else up front."""
    carried = event.text if isinstance(event, events.Text) else (
        event.arguments if isinstance(event, events.ToolCallArguments) else None)
    if carried is not None:
        quoted = _DUMPS(carried).encode("utf-8")
        at = payload.find(quoted)
        if at >= 0:
            return payload[: at + 1] + b"\xff\xfe" + payload[at + 1 :]
    return b"\xff\xfe" + payload


@dataclass(frozen=True, slots=True)
class Malformed(Fault):
    """One broken event in place of a good one (the next content token's)."""

    name = "malformed"
    triggered = True

    kind: str = choice(
        ("invalid_json", "truncated_json", "bad_utf8", "no_data_prefix", "wrong_schema"),
        "invalid_json",
        doc="how the event is broken",
    )

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        if cut.index >= len(script.beats):
            return script
        beat = script.beats[cut.index]
        framing = script.dialect.framing if script.dialect is not None else SSE
        broken = beat._replace(data=_broken(beat.data, self.kind, beat.event, framing), event=None)
        return script.replaced(cut.index, (broken,))


@dataclass(frozen=True, slots=True)
class ErrorEvent(Fault):
    """The provider's own in-stream error event after a 200, then the end of
    the body. Deliberate: real APIs report mid-stream failures this way.
    What is left out is the provider's (OpenAI: ``server_error``)."""

    name = "error_event"
    triggered = True

    type: str | None = text(None, doc="the error's type (default: the provider's)")
    message: str | None = text(None, doc="the error's message (default: the provider's)")
    code: str | None = text(None, doc="the error's code")

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        event = events.Error(self.message, self.type, self.code)
        assert script.encoder is not None, "a compiled script has its encoder"
        error = Beat(cut.at, script.encoder.encode(event, cut.index), event=event)
        return dataclasses.replace(script, beats=script.beats[: cut.index] + (error,), end=End.EOF, end_at=None, keepalive=None)


def _without(script: Script, kind: type) -> Script:
    return dataclasses.replace(script, beats=tuple(b for b in script.beats if not isinstance(b.event, kind)))


@dataclass(frozen=True, slots=True)
class NoDone(Fault):
    """The body ends cleanly without ``data: [DONE]``."""

    name = "no_done"

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        return _without(script, events.Done)


@dataclass(frozen=True, slots=True)
class NoFinish(Fault):
    """``[DONE]`` arrives, but no chunk ever carried a ``finish_reason``."""

    name = "no_finish"

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        return _without(script, events.Finish)


@dataclass(frozen=True, slots=True)
class DuplicateDone(Fault):
    """``data: [DONE]`` twice."""

    name = "duplicate_done"

    def apply(self, script: Script, cut: Cut, ctx: Context) -> Script:
        beats = []
        for beat in script.beats:
            beats.append(beat)
            if isinstance(beat.event, events.Done):
                beats.append(beat)
        return dataclasses.replace(script, beats=tuple(beats))
