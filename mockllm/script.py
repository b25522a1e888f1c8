"""The compiled plan of one response: headers, then beats at absolute offsets.

    scenario + ask + rng ──timeline──▶ [(at, event)] ──dialect──▶ Script
                                                                    │
                                                faults.apply ◀──────┘ (pure)

Offsets are seconds after the request arrived, at ``--speed`` (``Scenario.at_speed``);
the player sleeps until ``start + beat.at`` so delays never drift. Every beat
is encoded at compile time but for the response's own part (OpenAI: its id
and padding), which the encoder adds as the beat is written (``framed``):
beats of a steady reply are then the same in every response and made once,
and playing a beat is a sleep, a join and a write. The script knows no wire
format: bytes, ids and headers all come from the dialect (``dialects/base.py``).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import itertools
import operator
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from . import events, tokens
from .dialects import Ask, Dialect, Encoder, Response
from .dialects.base import Headers
from .headers import merge_headers
from .scenario import Close, Head, Reply, Scenario, Sleep, Step, Timing, ToolCallStep, UsageStep


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
    # The response's format, for faults that answer in its error shape or break its frames,
    # and its encoder, for faults that add events.
    dialect: Dialect | None = dataclasses.field(default=None, compare=False, repr=False)
    encoder: Encoder | None = dataclasses.field(default=None, compare=False, repr=False)
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
        assert self.encoder is not None, "a framed script has the encoder that frames it"
        frame = self.encoder.frame
        beats = tuple(beat._replace(data=frame(i, beat.data, beat.event)) for i, beat in enumerate(self.beats))
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


Plan = tuple[list[float], list[events.Event]]


def timeline(reply: Reply, timing: Timing, ask: Ask, call_ids: list[str], rng: random.Random | None) -> Plan:
    """The events of a reply and, beside them, their offsets in seconds.

    The opening event goes with the headers at 0, the first content token
    ``first_token`` later, each further token ``per_token`` after the one
    before it, and the finish one ``per_token`` after the last token. A
    block's end goes with whatever follows it (the next call, the finish).
    Two columns rather than pairs: the compile joins them without a step per token.
    """
    content: list[events.Event] = list(_text_events(reply.tokens))
    for index, (call, call_id) in enumerate(zip(reply.tool_calls, call_ids)):
        content.append(events.ToolCallStart(index, call_id, call.name))
        content.extend(events.ToolCallArguments(index, piece) for piece in tokens.fragments(call.arguments))

    # Offsets of the content events: first_token, then per_token apart, each
    # gap moved by up to +-jitter but never below zero.
    if timing.jitter:
        assert rng is not None, "jitter draws from the response's generator"
        jitter, uniform = timing.jitter, rng.uniform
        gaps = [max(0.0, timing.first_token + uniform(-jitter, jitter))]
        gaps += [max(0.0, timing.per_token + uniform(-jitter, jitter)) for _ in range(len(content))]
        *content_at, finish_at = itertools.accumulate(gaps)
    else:
        *content_at, finish_at = _even_offsets(timing.first_token, timing.per_token, len(content) + 1)

    has_text = bool(reply.tokens) or not reply.tool_calls
    opening: list[events.Event] = [events.Start("" if has_text else None)]
    if has_text:
        opening.append(events.TextStart())
    closing: list[events.Event] = [events.Finish(reply.finish_reason)]
    if ask.include_usage:
        closing.append(events.Usage(ask.prompt_tokens, completion_tokens(reply)))
    closing.append(events.Done())
    offsets = [*[0.0] * len(opening), *content_at, *[finish_at] * len(closing)]
    stream = [*opening, *content, *closing]
    # Block ends, inserted from the last so that earlier positions hold: each
    # goes right before the event that follows its block, at that event's time.
    ends: list[tuple[int, events.Event]] = [(len(reply.tokens), events.TextEnd())] if has_text else []
    position = len(reply.tokens)
    for index, call in enumerate(reply.tool_calls):
        position += 1 + len(tokens.fragments(call.arguments))
        ends.append((position, events.ToolCallEnd(index)))
    for position, end in reversed(ends):
        at = len(opening) + position
        stream.insert(at, end)
        offsets.insert(at, offsets[at])
    return offsets, stream


def _even_offsets(first: float, step: float, count: int) -> tuple[float, ...]:
    if count <= SHARED_EVENTS:
        return _shared_even_offsets(first, step, count)
    return tuple(first + i * step for i in range(count))


@functools.lru_cache(maxsize=1024)
def _shared_even_offsets(first: float, step: float, count: int) -> tuple[float, ...]:
    return tuple(first + i * step for i in range(count))


def step_timeline(
    steps: tuple[Step, ...], ask: Ask, new_call_id: Callable[[], str]
) -> tuple[list[tuple[float, events.Event]], End, float | None]:
    """The events of a hand-written script with their offsets, and how it ends.

    Each step goes out when the sleeps before it have passed; a ``close``
    step ends the connection there and anything after it is never sent.
    Blocks open and close as the steps imply (``with_blocks``).
    """
    plan: list[tuple[float, events.Event]] = []
    at = 0.0
    content = 0
    for step in steps:
        if isinstance(step, Sleep):
            at += step.seconds
        elif isinstance(step, Close):
            return with_blocks(plan, closed=False), (End.RESET if step.mode == "reset" else End.CLOSE), at
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
    return with_blocks(plan), End.EOF, None


# Events after which no block is open any more.
_CLOSING = (events.Finish, events.Usage, events.Done, events.Error)


def with_blocks(plan: list[tuple[float, events.Event]], *, closed: bool = True) -> list[tuple[float, events.Event]]:
    """Hand-written steps with the block events their format may need: a text
    block opens before the first text and closes before a tool call or the
    finish; a call closes before the next call or the finish. ``closed``: the
    stream ends cleanly, so a block still open at the end is closed there;
    a cut (``close`` step) leaves it open, as a dropped connection does."""
    out: list[tuple[float, events.Event]] = []
    open_text = False
    open_calls: list[int] = []

    def close_all(at: float) -> None:
        nonlocal open_text
        if open_text:
            out.append((at, events.TextEnd()))
            open_text = False
        out.extend((at, events.ToolCallEnd(index)) for index in open_calls)
        open_calls.clear()

    for at, event in plan:
        if isinstance(event, (events.TextStart, events.TextEnd, events.ToolCallEnd)):
            continue  # a step never names these; the stream's shape decides them
        if isinstance(event, events.Text) and not open_text and not open_calls:
            out.append((at, events.TextStart()))
            open_text = True
        elif isinstance(event, events.ToolCallStart):
            close_all(at) if open_text else None
            if event.index not in open_calls:
                open_calls.append(event.index)
        elif isinstance(event, _CLOSING):
            close_all(at)
        out.append((at, event))
    if closed:
        close_all(out[-1][0] if out else 0.0)
    return out


# Content tokens an event of each kind carries; a defaultdict so that the
# lookup is one C-level call per beat.
_TOKENS: collections.defaultdict[type, int] = collections.defaultdict(int, dict.fromkeys(events.CONTENT, 1))
PADDING_BYTES = 2  # seeded bytes every response draws, for a format's padding (OpenAI's obfuscation)


def framed_as(at: float, data: bytes, event: events.Event | None) -> Beat:
    """A beat of bytes written elsewhere (a raw step, an upstream's frame) that say ``event``."""
    return Beat(at, data, _TOKENS[type(event)], event)


def completion_tokens(reply: Reply) -> int:
    return len(reply.tokens) + sum(1 + len(tokens.fragments(c.arguments)) for c in reply.tool_calls)


def compile(
    scenario: Scenario,
    ask: Ask,
    dialect: Dialect,
    *,
    rng: random.Random,
    created: int = 0,
) -> Script:
    """The script of one response. Deterministic for the same inputs and seed.
    Its times are the scenario's: ``Scenario.at_speed`` has applied ``--speed``."""
    # Draws of a fixed size come first, used or not, so that no knob
    # (obfuscation, the number of tool calls) shifts another's draws; the ids
    # come after. Jitter gets a generator of its own, built only when needed.
    timing_seed = rng.getrandbits(64)
    padding = rng.randbytes(PADDING_BYTES)
    timing_rng = random.Random(timing_seed) if scenario.timing.jitter else None
    ids_rng = rng
    reply = scenario.reply
    call_ids = [call.id or dialect.call_id(ids_rng) for call in reply.tool_calls]
    encoder = dialect.encoder(Response(ask, ids_rng, created, scenario.name, padding))
    end, end_at = End.EOF, None
    # A steady reply says the same at the same times in every response, and
    # a small one shares its beats (SHARED_EVENTS).
    steady = (
        scenario.steps is None and not scenario.timing.jitter and all(c.id for c in reply.tool_calls)
        and completion_tokens(reply) <= SHARED_EVENTS
    )
    if scenario.steps is not None:
        steps_plan, end, end_at = step_timeline(scenario.steps, ask, lambda: dialect.call_id(ids_rng))
        offsets, stream = [at for at, _ in steps_plan], [event for _, event in steps_plan]
    elif steady and ask.stream:
        offsets, stream = [], []  # its beats are shared: _steady_beats, below
    else:
        offsets, stream = timeline(reply, scenario.timing, ask, call_ids, timing_rng)
    headers = dialect.headers(ids_rng, streaming=ask.stream, first_token=scenario.timing.first_token)
    if scenario.response is not None:
        recorded = _as_recorded(scenario.response, headers, _beats(offsets, stream, dialect), ask, dialect, encoder,
                                end, end_at)
        return understood(recorded)
    if not ask.stream:
        # The whole body is ready when the stream would have finished; it says
        # what the reply's stream says, usage included.
        ready = max([*offsets, end_at or 0.0]) if dialect.streams else scenario.timing.first_token
        whole = dataclasses.replace(ask, include_usage=True)
        _, reply_stream = timeline(reply, Timing(), whole, call_ids, None)
        beat = Beat(ready, encoder.complete(reply_stream), completion_tokens(reply))
        return Script(200, headers, (beat,), headers_at=ready, streaming=False, dialect=dialect, encoder=encoder)
    if steady:
        beats = _steady_beats(dialect, reply, scenario.timing)
        if ask.include_usage:  # the one event whose body depends on the request
            usage = events.Usage(ask.prompt_tokens, completion_tokens(reply))
            done = next((i for i in range(len(beats) - 1, -1, -1) if beats[i].is_done), len(beats))
            at = beats[done - 1].at if done else 0.0
            beats = beats[:done] + _beats((at,), (usage,), dialect) + beats[done:]
    else:
        beats = _beats(offsets, stream, dialect)
    compiled = Script(200, headers, beats, end=end, end_at=end_at, dialect=dialect, encoder=encoder, framed=True)
    if scenario.steps is not None and any(isinstance(event, events.Raw) for event in stream):
        return understood(compiled)
    return compiled


def understood(script: Script) -> Script:
    """The script with each ``raw`` step's bytes read as what they say in its
    format (``Dialect.understand``): a recorded frame of text is a content
    token that ``after: N`` counts, a recorded ``[DONE]`` the terminator that
    ``no_done`` removes. The bytes stay as written."""
    script = script.materialized()  # the events change, so nothing may frame the bytes by them any more
    dialect = script.dialect
    assert dialect is not None, "a compiled script knows its format"
    beats = []
    for beat in script.beats:
        if isinstance(beat.event, events.Raw) and (event := dialect.understand(beat.data)) is not None:
            beat = framed_as(beat.at, beat.data, event)
        beats.append(beat)
    return dataclasses.replace(script, beats=tuple(beats))


def _as_recorded(
    head: Head, headers: Headers, beats: tuple[Beat, ...], ask: Ask, dialect: Dialect, encoder: Encoder,
    end: End, end_at: float | None,
) -> Script:
    """A scenario with its own ``response:`` (a recorded exchange): its status
    and headers over the format's, then its steps as they are, whatever the
    request asked, ``delay`` after the request."""
    delay = head.delay
    if delay:
        beats = tuple(beat._replace(at=beat.at + delay) for beat in beats)
        end_at = None if end_at is None else end_at + delay
    return Script(
        head.status, merge_headers(headers, head.headers), beats, headers_at=delay, end=end, end_at=end_at,
        streaming=ask.stream, dialect=dialect, encoder=encoder, framed=True,
    )


_has_data = operator.itemgetter(1)


def _beats(offsets: Sequence[float], stream: Sequence[events.Event], dialect: Dialect) -> tuple[Beat, ...]:
    """The beats of events at their offsets, each holding its body (``Script.framed``)."""
    bodies = dialect.bodies(stream)
    counts = map(_TOKENS.__getitem__, map(type, stream))
    # tuple.__new__ over zipped columns: a C-level step per beat, not a Python one.
    beats = tuple(map(tuple.__new__, itertools.repeat(Beat), zip(offsets, bodies, counts, stream)))
    if b"" in bodies:
        kept = tuple(filter(_has_data, beats))  # a format may have no frame for an event
        if sum(map(_tokens_of, kept)) != sum(map(_tokens_of, beats)):
            kept = _carried(beats)
        beats = kept
    return beats


_tokens_of = operator.itemgetter(2)


def _carried(beats: tuple[Beat, ...]) -> tuple[Beat, ...]:
    """The beats that have a frame, each also carrying the tokens of frameless
    beats before it: a format that sends a tool call whole (Ollama, Gemini)
    delivers its argument tokens with that one frame, and ``after: N`` counts them there."""
    out: list[Beat] = []
    carry = 0
    for beat in beats:
        if not beat.data:
            carry += beat.tokens
        elif carry:
            out.append(beat._replace(tokens=beat.tokens + carry))
            carry = 0
        else:
            out.append(beat)
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _steady_beats(dialect: Dialect, reply: Reply, timing: Timing) -> tuple[Beat, ...]:
    """The beats of a reply whose every response says the same at the same
    times (no jitter, no drawn ids), without usage: made once, shared. The
    player adds each response's own part (``Script.framed``) as it writes."""
    ids = [call.id for call in reply.tool_calls if call.id is not None]  # steady: every call has its id
    offsets, stream = timeline(reply, timing, _WITHOUT_USAGE, ids, None)
    return _beats(offsets, stream, dialect)


_WITHOUT_USAGE = Ask(model="", stream=True)
