"""The compiled plan of one response: headers, then beats at absolute offsets.

    scenario + ask + rng ──timeline──▶ [(at, event)] ──dialect──▶ Script
                                                                    │
                                                faults.apply ◀──────┘ (pure)

Offsets are seconds after the request arrived, already divided by ``speed``;
the player sleeps until ``start + beat.at`` so delays never drift. Every beat
is encoded at compile time but for the response's own part (OpenAI: its id
and padding), which the encoder adds as the beat is written (``framed``):
beats of a steady reply are then the same in every response and made once,
and playing a beat is a sleep, a join and a write.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

from . import events, tokens
from .dialects import Ask
from .scenario import Close, Reply, Scenario, Sleep, Step, Timing, ToolCallStep, UsageStep


class End(enum.Enum):
    """How the connection ends after the last beat."""

    EOF = "eof"  # the body ends cleanly (chunked terminator)
    CLOSE = "close"  # FIN with the body incomplete: the client reads a premature end
    RESET = "reset"  # RST: the client reads a connection reset
    HANG = "hang"  # nothing more is sent and the socket stays open


class Beat(NamedTuple):
    """One write. A named tuple rather than a dataclass: every token of every
    response makes one, and a tuple is the cheapest immutable value to build."""

    at: float
    data: bytes
    tokens: int = 0  # content tokens in this beat: ``after: N`` and the journal count them
    event: events.Event | None = None  # what the bytes say; None for raw or re-cut bytes

    @property
    def is_done(self) -> bool:
        return isinstance(self.event, events.Done)


@dataclass(frozen=True, slots=True)
class Script:
    status: int
    headers: tuple[tuple[str, str], ...]
    beats: tuple[Beat, ...]
    headers_at: float = 0.0
    end: End = End.EOF
    end_at: float | None = None  # None: right after the last beat
    streaming: bool = True
    respond: bool = True  # False: the connection ends (``end``) before any headers
    keepalive: tuple[float, bytes] | None = None  # while hanging: these bytes this often
    faults: tuple[str, ...] = ()  # the faults applied, as the journal and headers show them
    ignored: tuple[str, ...] = ()  # faults skipped because the response is not streamed
    # The dialect's encoder for this response, for faults that add events.
    encoder: Any = dataclasses.field(default=None, compare=False, repr=False)
    # True: each beat's data is only its event's body, and ``encoder.frame``
    # adds the response's own part (OpenAI: the id and padding) as it is
    # written. Compiled scripts start so, and no response holds bytes of its
    # own per token; whatever reads or rewrites bytes asks for ``materialized``.
    framed: bool = False
    # True: the script continues a response the client already received in
    # part (a resume), so an ``after: N`` with fewer than N tokens left does
    # not act: it acted on the connection that delivered them.
    resumed: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(beat.data for beat in self.materialized().beats)

    def materialized(self) -> Script:
        """The script with the final bytes in every beat."""
        if not self.framed:
            return self
        frame = self.encoder.frame
        beats = tuple(beat._replace(data=frame(i, beat)) for i, beat in enumerate(self.beats))
        return dataclasses.replace(self, beats=beats, framed=False)

    def shifted(self, seconds: float, start: int, *, headers: bool = False) -> Script:
        """Beats from ``start`` on (and the end, and optionally the headers) ``seconds`` later."""
        beats = self.beats[:start] + tuple(b._replace(at=b.at + seconds) for b in self.beats[start:])
        return dataclasses.replace(
            self,
            beats=beats,
            headers_at=self.headers_at + seconds if headers else self.headers_at,
            end_at=None if self.end_at is None else self.end_at + seconds,
        )

    def inserted(self, index: int, beats: Sequence[Beat]) -> Script:
        return dataclasses.replace(self, beats=self.beats[:index] + tuple(beats) + self.beats[index:])

    def replaced(self, index: int, beats: Sequence[Beat]) -> Script:
        return dataclasses.replace(self, beats=self.beats[:index] + tuple(beats) + self.beats[index + 1 :])

    def labelled(self, faults: tuple[str, ...], ignored: tuple[str, ...]) -> Script:
        return dataclasses.replace(self, faults=self.faults + faults, ignored=self.ignored + ignored)


# Replies up to this many events have their events, offsets and beats made
# once and shared by every response. Larger ones are made per response and
# freed when it ends: a cache of them would keep a removed scenario's
# megabytes for the life of the process.
SHARED_EVENTS = 4096


def is_large(scenario: Scenario) -> bool:
    """Whether a scenario has more events than are shared (``SHARED_EVENTS``):
    such a reply is compiled per response, and worth compiling off the loop."""
    return len(scenario.reply.tokens) + len(scenario.steps or ()) > SHARED_EVENTS


def _text_events(pieces: tuple[str, ...]) -> tuple[events.Text, ...]:
    """A reply's text events: made once when the reply is small enough to share."""
    if len(pieces) <= SHARED_EVENTS:
        return _shared_text_events(pieces)
    return tuple(map(events.Text, pieces))


@functools.lru_cache(maxsize=1024)
def _shared_text_events(pieces: tuple[str, ...]) -> tuple[events.Text, ...]:
    return tuple(map(events.Text, pieces))


def timeline(reply: Reply, timing: Timing, ask: Ask, call_ids: list[str], rng: random.Random | None):
    """The events of a reply and, beside them, their offsets in seconds (before ``speed``).

    The opening event goes with the headers at 0, the first content token
    ``first_token`` later, each further token ``per_token`` after the one
    before it, and the finish one ``per_token`` after the last token.
    Two columns rather than pairs: the compile joins them without a step per token.
    """
    content: list[events.Event] = list(_text_events(reply.tokens))
    for index, (call, call_id) in enumerate(zip(reply.tool_calls, call_ids)):
        content.append(events.ToolCallStart(index, call_id, call.name))
        content.extend(events.ToolCallArguments(index, piece) for piece in tokens.fragments(call.arguments))

    # Offsets of the content events: first_token, then per_token apart, each
    # gap moved by up to +-jitter but never below zero.
    if timing.jitter:
        jitter, uniform = timing.jitter, rng.uniform
        gaps = [max(0.0, timing.first_token + uniform(-jitter, jitter))]
        gaps += [max(0.0, timing.per_token + uniform(-jitter, jitter)) for _ in range(len(content))]
        *content_at, finish_at = itertools.accumulate(gaps)
    else:
        *content_at, finish_at = _even_offsets(timing.first_token, timing.per_token, len(content) + 1)

    opening = events.Start("" if reply.tokens or not reply.tool_calls else None)
    closing: list[events.Event] = [events.Finish(reply.finish_reason)]
    if ask.include_usage:
        closing.append(events.Usage(ask.prompt_tokens, completion_tokens(reply)))
    closing.append(events.Done())
    return [0.0, *content_at, *[finish_at] * len(closing)], [opening, *content, *closing]


def _even_offsets(first: float, step: float, count: int) -> tuple[float, ...]:
    if count <= SHARED_EVENTS:
        return _shared_even_offsets(first, step, count)
    return tuple(first + i * step for i in range(count))


@functools.lru_cache(maxsize=1024)
def _shared_even_offsets(first: float, step: float, count: int) -> tuple[float, ...]:
    return tuple(first + i * step for i in range(count))


def step_timeline(steps: tuple[Step, ...], ask: Ask, new_call_id: Callable[[], str]):
    """The events of a hand-written script with their offsets, and how it ends.

    Each step goes out when the sleeps before it have passed; a ``close``
    step ends the connection there and anything after it is never sent.
    """
    plan: list[tuple[float, events.Event]] = []
    at = 0.0
    content = 0
    for step in steps:
        if isinstance(step, Sleep):
            at += step.seconds
        elif isinstance(step, Close):
            return plan, (End.RESET if step.mode == "reset" else End.CLOSE), at
        elif isinstance(step, ToolCallStep):
            if step.name is not None:
                plan.append((at, events.ToolCallStart(step.index, step.id or new_call_id(), step.name)))
            if step.arguments or step.name is None:
                plan.append((at, events.ToolCallArguments(step.index, step.arguments)))
                content += 1
        elif isinstance(step, UsageStep):
            prompt = ask.prompt_tokens if step.prompt_tokens is None else step.prompt_tokens
            completion = content if step.completion_tokens is None else step.completion_tokens
            plan.append((at, events.Usage(prompt, completion)))
        else:
            content += isinstance(step, events.CONTENT)
            plan.append((at, step))
    return plan, End.EOF, None


_TOKENS = {kind: 1 for kind in events.CONTENT}  # content tokens an event carries
PADDING_BYTES = 2  # random bytes a dialect may use for padding (OpenAI's obfuscation)


def completion_tokens(reply: Reply) -> int:
    return len(reply.tokens) + sum(1 + len(tokens.fragments(c.arguments)) for c in reply.tool_calls)


@functools.lru_cache(maxsize=1024)
def fingerprint(name: str) -> str:
    return "fp_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]


def compile(
    scenario: Scenario,
    ask: Ask,
    dialect: ModuleType,
    *,
    rng: random.Random,
    speed: float = 1.0,
    created: int = 0,
) -> Script:
    """The script of one response. Deterministic for the same inputs and seed."""
    # Draws of a fixed size come first, used or not, so that no knob
    # (obfuscation, the number of tool calls) shifts another's draws; the ids
    # come after. Jitter gets a generator of its own, built only when needed.
    timing_seed = rng.getrandbits(64)
    padding = rng.randbytes(PADDING_BYTES)
    timing_rng = random.Random(timing_seed) if scenario.timing.jitter else None
    ids_rng = rng
    reply = scenario.reply
    call_ids = [call.id or dialect.random_id(ids_rng, "call_", 24) for call in reply.tool_calls]
    encoder = dialect.Encoder(
        ask,
        completion_id=dialect.random_id(ids_rng, "chatcmpl-", 29),
        created=created,
        fingerprint=fingerprint(scenario.name),
        padding=padding,
    )
    end, end_at = End.EOF, None
    # A steady reply says the same at the same times in every response, and
    # a small one shares its beats (SHARED_EVENTS).
    steady = (
        scenario.steps is None and not scenario.timing.jitter and all(c.id for c in reply.tool_calls)
        and completion_tokens(reply) <= SHARED_EVENTS
    )
    if scenario.steps is not None:
        steps_plan, end, end_at = step_timeline(
            scenario.steps, ask, lambda: dialect.random_id(ids_rng, "call_", 24)
        )
        offsets, stream = [at for at, _ in steps_plan], [event for _, event in steps_plan]
        end_at = None if end_at is None else end_at / speed
    elif steady and ask.stream:
        offsets, stream = [], []  # its beats are shared: _steady_beats, below
    else:
        offsets, stream = timeline(reply, scenario.timing, ask, call_ids, timing_rng)
    if speed != 1:
        offsets = [at / speed for at in offsets]
    first_token_ms = round(scenario.timing.first_token / speed * 1000)
    headers = dialect.headers(ids_rng, streaming=ask.stream, processing_ms=first_token_ms)
    if not ask.stream:
        # The whole body is ready when the stream would have finished.
        ready = max([*offsets, end_at or 0.0])
        body = encoder.completion(reply, call_ids, ask.prompt_tokens, completion_tokens(reply))
        beat = Beat(ready, body, completion_tokens(reply))
        return Script(200, headers, (beat,), headers_at=ready, streaming=False, encoder=encoder)
    if steady:
        beats = _steady_beats(dialect, reply, scenario.timing, speed)
        if ask.include_usage:  # the one event whose body depends on the request
            usage = events.Usage(ask.prompt_tokens, completion_tokens(reply))
            beats = beats[:-1] + _beats((beats[-1].at,), (usage,), dialect) + beats[-1:]
    else:
        beats = _beats(offsets, stream, dialect)
    return Script(200, headers, beats, end=end, end_at=end_at, encoder=encoder, framed=True)


def _beats(offsets: Sequence[float], stream: Sequence[events.Event], dialect: ModuleType) -> tuple[Beat, ...]:
    """The beats of events at their offsets, each holding its body (``Script.framed``)."""
    bodies = dialect.event_bodies(stream)
    counts = map(_TOKENS.get, map(type, stream), itertools.repeat(0))
    # tuple.__new__ over zipped columns: a C-level step per beat, not a Python one.
    beats = tuple(map(tuple.__new__, itertools.repeat(Beat), zip(offsets, bodies, counts, stream)))
    if b"" in bodies:
        beats = tuple(beat for beat in beats if beat.data)  # a format may have no frame for an event
    return beats


@functools.lru_cache(maxsize=256)
def _steady_beats(dialect: ModuleType, reply: Reply, timing: Timing, speed: float) -> tuple[Beat, ...]:
    """The beats of a reply whose every response says the same at the same
    times (no jitter, no drawn ids), without usage: made once, shared. The
    player adds each response's own part (``Script.framed``) as it writes."""
    offsets, stream = timeline(reply, timing, _WITHOUT_USAGE, [call.id for call in reply.tool_calls], None)
    if speed != 1:
        offsets = [at / speed for at in offsets]
    return _beats(offsets, stream, dialect)


_WITHOUT_USAGE = Ask(model="", stream=True)
