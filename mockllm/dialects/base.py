"""The dialect seam: what every wire format implements, and the values that cross it.

    body ──Dialect.parse──▶ Ask ──router, script──▶ events ──Dialect.bodies──▶ beats
                                                    beats ──Encoder.frame──▶ bytes on the wire
    an upstream's bytes ──Framing.frames──▶ frames ──Dialect.understand──▶ events   (proxy, record)

A dialect is one module holding one ``Dialect`` subclass and its instance;
``dialects.DIALECTS`` lists them, and routes, ``--mount PATH=FORMAT``,
``?format=`` and ``play --format`` all read that table. Nothing outside
``dialects/`` knows a wire format: the script, the faults and the router ask
the dialect for bytes, ids, error bodies and error statuses.

Two halves keep streaming cheap. ``Dialect.bodies`` turns events into bodies
that are the same in every response, so a reply's beats are made once and
shared; the ``Encoder`` a response gets adds what is its own (ids, a
``sequence_number``, padding) as each beat is written (``Encoder.frame``).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from ..errors import RequestError
from ..events import Event
from ..scenario import FINISH_REASONS

if TYPE_CHECKING:
    from ..quota import Budget
    from ..scenario import Scenario

Headers = tuple[tuple[str, str], ...]
__all__ = ["FINISH_REASONS", "NDJSON", "SSE", "Ask", "Call", "Dialect", "Encoder", "Example", "Framing", "Listing",
           "Message", "Response", "Route"]



@dataclass(frozen=True, slots=True)
class Message:
    """One message of the conversation a request carries, in no format's terms.
    Every format's tool result (OpenAI's ``role: tool``, Anthropic's
    ``tool_result`` block, a Responses ``function_call_output``, Gemini's
    ``functionResponse``) is a ``tool`` message."""

    role: str  # "system", "user", "assistant" or "tool"
    text: str = ""
    calls: tuple[str, ...] = ()  # an assistant message's tool calls, by name
    call_ids: tuple[str, ...] = ()  # ... and their ids, where the format gives them
    result_of: str = ""  # a tool message: the tool whose result it is ("" when unknown)
    call_id: str = ""  # ... and the id of the call it answers, where the format gives it


@dataclass(frozen=True, slots=True)
class Ask:
    """What a client asked for, independent of the wire format."""

    model: str
    prompt: str = ""  # the last user message, for ``match`` rules
    stream: bool = False
    include_usage: bool = False  # a usage event in the stream (always, where the format always sends one)
    include_obfuscation: bool = True
    prompt_tokens: int = 0
    inputs: tuple[str, ...] = ()  # the texts to embed, for the embeddings format
    # Request fields only the dialect's encoder reads back (the Responses API
    # echoes ``instructions``; embeddings read ``dimensions``): name, value pairs.
    echo: tuple[tuple[str, object], ...] = ()
    # The conversation, for ``match`` rules and ``turns``: its messages (a
    # system prompt first, as a ``system`` message), the tools offered by
    # name, and the request's metadata fields (``user`` among them).
    messages: tuple[Message, ...] = ()
    tools: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()

    def option(self, name: str, default: object = None) -> object:
        return next((value for key, value in self.echo if key == name), default)


@dataclass(frozen=True, slots=True)
class Route:
    """One API route a dialect answers: method, aiohttp path pattern, and the
    dialect's own label for it, handed back to ``parse`` (Gemini: ``stream``
    for ``:streamGenerateContent``, ``once`` for ``:generateContent``)."""

    method: str
    path: str
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Call:
    """What ``parse`` sees of a request besides its body."""

    route: Route
    params: Mapping[str, str] = field(default_factory=dict)  # the path's parameters (Gemini: the model)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Example:
    """A request as the format's official client sends it: the path it
    posts to, with the ``Call`` that route makes of it, and the body. ``play
    --format`` parses it, and the contract tests send it over a socket."""

    path: str
    call: Call
    body: dict[str, object]


@dataclass(frozen=True, slots=True)
class Listing:
    """A GET route that lists the scenarios as the format lists models
    (``/v1/models``, Ollama's ``/api/tags``) or answers a fixed JSON value.
    ``header``: the listing answers only requests that send it, where two
    formats list at one path (Anthropic's clients send ``anthropic-version``
    to OpenAI's ``/v1/models``)."""

    path: str
    render: Callable[[Sequence[Scenario]], object]
    header: str | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """What one response's encoder is made from."""

    ask: Ask
    rng: random.Random  # the response's seeded generator: draw ids from it, always in the same order
    created: int  # Unix seconds
    scenario: str  # the scenario's name (OpenAI derives its fingerprint from it)
    padding: bytes = b""  # seeded bytes drawn for every response (OpenAI's obfuscation start)


class Encoder(Protocol):
    """One response's encoder, made by ``Dialect.encoder``."""

    def frame(self, index: int, body: bytes, event: Event | None) -> bytes:
        """The bytes of the ``index``-th beat, from the body ``Dialect.bodies`` made
        (the whole frame for a dialect with nothing of the response's own in it)."""
        ...

    def encode(self, event: Event, index: int = 0) -> bytes:
        """The whole frame(s) of one event as the ``index``-th beat: for events
        a fault adds (``error_event``)."""
        ...

    def complete(self, stream: Sequence[Event]) -> bytes:
        """The body of a ``stream: false`` response: the same events, folded."""
        ...


class Framing(Protocol):
    """How the format cuts a stream into frames: to read an upstream's stream
    frame by frame, and for faults that break one."""

    def frames(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        """The whole frames at the front of ``buffer``, each with its exact bytes
        and terminator, and the rest: a frame not yet complete, for the next read."""
        ...

    def split(self, frame: bytes) -> tuple[bytes, bytes, bytes]:
        """``(head, payload, tail)``: the JSON payload and what wraps it."""
        ...

    def misframed(self, head: bytes, payload: bytes, tail: bytes) -> bytes:
        """The frame in a framing its readers do not expect (SSE: no ``data:``)."""
        ...


# An SSE line ends in CRLF, LF or a lone CR (never the CR of a CRLF); a frame
# ends at a blank line.
_EOL = rb"(?:\r\n|\r(?!\n)|\n)"
_TAIL = re.compile(_EOL + _EOL + rb"\Z")
_DATA_LINE = re.compile(rb"(?:\A|[\r\n])data: ?")


def cut(buffer: bytes, end_of: Callable[[int], int]) -> tuple[list[bytes], bytes]:
    """``Framing.frames`` for a framing whose frame starting at an offset of
    ``buffer`` ends where ``end_of`` says (-1: not yet): by offsets, so a large
    read is not copied once per frame."""
    frames = []
    start = 0
    while start < len(buffer) and (end := end_of(start)) >= 0:
        frames.append(buffer[start:end])
        start = end
    return frames, buffer[start:] if start else buffer


class LineEnds:
    """Where the lines of one buffer end, whatever their line endings, found at
    memchr speed: CR and LF are each looked for on their own, each search going
    on from where it last stopped, so cutting a buffer reads it about once (a
    long frame arriving a byte at a time costs a scan of it a read, not a
    Python step a byte)."""

    def __init__(self, buffer: bytes) -> None:
        self.buffer = buffer
        self._lf = self._cr = -2  # the next LF and CR found; -1: none is left; -2: not looked for yet

    def next(self, at: int) -> tuple[int, int]:
        """The first line end at or after ``at`` and its length (CRLF: 2); ``(-1, 0)``
        when there is none yet, a CR that is the last byte being maybe half of a CRLF."""
        buffer = self.buffer
        if self._lf != -1 and self._lf < at:
            self._lf = buffer.find(b"\n", at)
        if self._cr != -1 and self._cr < at:
            self._cr = buffer.find(b"\r", at)
        lf, cr = self._lf, self._cr
        if cr < 0 or 0 <= lf < cr:
            return (lf, 1) if lf >= 0 else (-1, 0)
        if cr + 1 == len(buffer):
            return -1, 0
        return cr, 2 if lf == cr + 1 else 1


def sse_end(ends: LineEnds, start: int, *, closing: bytes | None = None) -> int:
    """Where the SSE frame at ``start`` ends: after its blank line (a blank line
    right at ``start`` is a frame of its own, an empty event), or after a line
    that is exactly ``closing``; -1 when it has not ended yet."""
    line = start
    while True:
        end, size = ends.next(line)
        if end < 0:
            return -1
        if end == line or (closing is not None and ends.buffer[line:end] == closing):
            return end + size
        line = end + size


class SSEFraming:
    """``[id: N\\n][event: NAME\\n]data: PAYLOAD\\n\\n``, in any line endings: the
    head is every line up to and including ``data: ``, the tail the blank line."""

    def frames(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        return cut(buffer, functools.partial(self.end, LineEnds(buffer)))

    def end(self, ends: LineEnds, start: int) -> int:
        """Where the frame at ``start`` ends, or -1 (``sse_end``)."""
        return sse_end(ends, start)

    def split(self, frame: bytes) -> tuple[bytes, bytes, bytes]:
        tail = _TAIL.search(frame, max(0, len(frame) - 4))  # the longest blank line: CRLF CRLF
        data = _DATA_LINE.search(frame)
        if tail is None or data is None or data.end() > tail.start():
            return b"", frame, b""  # not a whole frame, or no data line: all of it is payload
        return frame[: data.end()], frame[data.end() : tail.start()], frame[tail.start() :]

    def misframed(self, head: bytes, payload: bytes, tail: bytes) -> bytes:
        return head.removesuffix(b" ").removesuffix(b"data:") + payload + tail


def _ndjson_end(buffer: bytes, start: int) -> int:
    end = buffer.find(b"\n", start)
    return end + 1 if end >= 0 else -1


class NDJSONFraming:
    """One JSON value a line (Ollama)."""

    def frames(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        return cut(buffer, functools.partial(_ndjson_end, buffer))

    def split(self, frame: bytes) -> tuple[bytes, bytes, bytes]:
        for tail in (b"\r\n", b"\n"):
            if frame.endswith(tail):
                return b"", frame[: -len(tail)], tail
        return b"", frame, b""

    def misframed(self, head: bytes, payload: bytes, tail: bytes) -> bytes:
        return b"data: " + payload + tail  # an SSE line where a JSON line belongs


SSE = SSEFraming()
NDJSON = NDJSONFraming()


class Dialect:
    """A wire format. Subclasses set the class attributes and implement the
    methods; each dialect module makes one instance, ``DIALECT``."""

    name: ClassVar[str]  # the table's key: --mount PATH=NAME, ?format=NAME, play --format NAME
    title: ClassVar[str]  # for people: "OpenAI Chat Completions"
    routes: ClassVar[tuple[Route, ...]] = ()
    listings: ClassVar[tuple[Listing, ...]] = ()
    framing: ClassVar[Framing] = SSE
    # False: every answer is one body that is not the reply (embeddings): it is
    # ready after the scenario's ``first_token``, and stream faults never apply.
    streams: ClassVar[bool] = True
    # CORS: request headers a page may send, response headers it may read.
    allow_headers: ClassVar[tuple[str, ...]] = ()
    expose_headers: ClassVar[tuple[str, ...]] = ()
    request_id_header: ClassVar[str] = "x-request-id"  # kept when a fault replaces the response
    # What a stall's ``heartbeat`` sends: a line every reader of the format skips.
    heartbeat: ClassVar[bytes] = b": ping\n\n"
    error_content_type: ClassVar[str] = "application/json"
    # The finish reasons the scenario names (``FINISH_REASONS``), as this format spells them.
    finish_reasons: ClassVar[Mapping[str, str]] = {}

    def parse(self, body: object, call: Call) -> Ask:
        """Validate a decoded request body as the real API does; ``RequestError`` in its words."""
        raise NotImplementedError

    def call_id(self, rng: random.Random) -> str:
        """A fresh tool call id in the format's own shape."""
        raise NotImplementedError

    def encoder(self, response: Response) -> Encoder:
        raise NotImplementedError

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        """The headers of a successful response; ``first_token`` is the reply's
        first-token delay in seconds (OpenAI reports it as ``openai-processing-ms``)."""
        raise NotImplementedError

    def rate_limit_headers(self, budget: Budget, now: float) -> Headers:
        """What a client's quota has left, in the headers this format's
        provider sends on every response (``quota:``); ``now`` is the Unix
        time of the response. None by default: Gemini and Ollama send none."""
        return ()

    def bodies(self, stream: Sequence[Event]) -> list[bytes]:
        """One body per event, the same in every response (``Encoder.frame``
        adds the rest); ``b""`` for an event the format has no frame for. A
        body may hold several frames that always travel together."""
        raise NotImplementedError

    def understand(self, frame: bytes) -> Event | None:
        """What one whole frame of this format says (a proxied or recorded
        stream's, cut by ``framing.frames``): its content (``Text``,
        ``ToolCallArguments``), ``ToolCallStart``, ``Finish``, ``Usage``,
        ``Done``, ``Error``, ``Start`` or ``Comment``; None for anything else.
        Never raises, whatever the bytes. None by default (a format that does not stream)."""
        return None

    def error_body(self, error: RequestError) -> bytes:
        """The format's error object for ``error``."""
        raise NotImplementedError

    def status_error(self, status: int) -> RequestError:
        """What the real API answers with ``status`` (the ``status`` fault's
        defaults): its error type, code and message, and the headers it sends
        (a 429's ``retry-after`` and rate-limit headers)."""
        raise NotImplementedError

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        """A minimal request for ``model`` with the user message ``prompt``."""
        raise NotImplementedError

    def finish(self, reason: str) -> str:
        """``reason`` (the scenario's word, or a ``finish`` step's own) as this format spells it."""
        return self.finish_reasons.get(reason, reason)

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"
