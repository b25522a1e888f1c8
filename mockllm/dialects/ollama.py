"""Ollama's native API: ``POST /api/chat`` and ``/api/generate``, NDJSON.

The bytes follow the server's Go structs (shared/wire-format.md §14): one
compact ``json.Marshal`` object and ``\\n`` a line, keys in struct order, and
``<``, ``>``, ``&``, U+2028 and U+2029 escaped as Go's encoder escapes them.

    text        {"model":M,"created_at":T,"message":{"role":"assistant","content":"Hel"},"done":false}
    tool call   {"model":M,"created_at":T,"message":{"role":"assistant","content":"",
                 "tool_calls":[{"id":"call_…","function":{"index":0,"name":"f","arguments":{…}}}]},"done":false}
    done        {"model":M,"created_at":T,"message":{"role":"assistant","content":""},"done":true,
                 "done_reason":"stop","total_duration":…,"eval_count":N,"eval_duration":…}
    error       {"error":"an error was encountered while running the model"}

``/api/generate`` lines carry ``"response":"Hel"`` where chat has ``message``,
and its done line a ``context``. A body here is the route-free part of a line
(a token's JSON string, a call list, the done line's tail); the response's
encoder joins on its head (model, created_at) and the route's wrapping. A tool
call is sent whole at its ``ToolCallEnd``; the finish has no line of its own:
its ``done_reason`` rides on the done line (``Done``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import string
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import events, tokens
from ..errors import RequestError
from . import conversation, reading
from .base import NDJSON, Ask, Call, Dialect, Example, Headers, Listing, Message, Response, Route

if TYPE_CHECKING:
    from ..scenario import Scenario

NAME = "ollama"
VERSION = "0.12.0"  # what /api/version answers: a stand-in, not a release mockllm mirrors

# Go's json.Marshal escapes these inside strings (HTML safety and JavaScript's line ends).
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value: object) -> bytes:
    """``value`` as Go's ``json.Marshal`` writes it: compact, raw UTF-8, HTML escaped."""
    return _ENCODE(value).translate(_GO_ESCAPES).encode("utf-8", "backslashreplace")


# -- requests --------------------------------------------------------------

CHAT, GENERATE = "chat", "generate"
MAX_TOP_LOGPROBS = 20

# Go's names for what a field holds, as ``json.Unmarshal`` reports a mismatch.
_CHAT_FIELDS = {"model": "string", "messages": "[]api.Message", "stream": "bool", "tools": "api.Tools",
                "options": "map[string]interface {}", "logprobs": "bool", "top_logprobs": "int"}
_GENERATE_FIELDS = {"model": "string", "prompt": "string", "suffix": "string", "system": "string",
                    "template": "string", "stream": "bool", "raw": "bool", "images": "[]api.ImageData",
                    "context": "[]int", "options": "map[string]interface {}", "logprobs": "bool",
                    "top_logprobs": "int"}
_MESSAGE_FIELDS = {"role": "string", "content": "string", "thinking": "string", "images": "[]api.ImageData",
                   "tool_calls": "[]api.ToolCall", "tool_name": "string"}
_STRUCTS = {CHAT: "ChatRequest", GENERATE: "GenerateRequest"}


def _json_kind(value: object) -> str:
    """How Go's decoder names a JSON value in ``cannot unmarshal X into``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fits(value: object, go_type: str) -> bool:
    if value is None:
        return True  # Go leaves a field untouched for null
    if go_type == "string":
        return isinstance(value, str)
    if go_type == "bool":
        return isinstance(value, bool)
    if go_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if go_type.startswith("map["):
        return isinstance(value, dict)
    if go_type == "[]int":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return isinstance(value, list)  # the slices (api.Tools is one)


def _unmarshal_error(value: object, struct: str, path: str, go_type: str) -> RequestError:
    return RequestError(400, f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                             f"{struct}.{path} of type {go_type}")


def _check(body: dict[str, object], types: dict[str, str], struct: str, prefix: str = "") -> None:
    for key, go_type in types.items():
        value = body.get(key)
        if not _fits(value, go_type):
            raise _unmarshal_error(value, struct, prefix + key, go_type)


def parse(body: object, kind: str) -> Ask:
    """Validate a request as the server does: Go's decoder refuses a field of
    the wrong type, then the handler wants a model; unknown fields are ignored.
    ``stream`` absent means a stream (the server's default)."""
    struct = _STRUCTS[kind]
    if not isinstance(body, dict):
        raise RequestError(400, f"json: cannot unmarshal {_json_kind(body)} into Go value of type api.{struct}")
    _check(body, _CHAT_FIELDS if kind == CHAT else _GENERATE_FIELDS, struct)
    if kind == CHAT:
        for message in body.get("messages") or ():
            if not isinstance(message, dict):
                raise _unmarshal_error(message, struct, "messages", "api.Message")
            _check(message, _MESSAGE_FIELDS, struct, "messages.")
    model = body.get("model") or ""
    if not model:
        raise RequestError(400, "model is required")
    top = body.get("top_logprobs")
    if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
        raise RequestError(400, f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
    if kind == CHAT:
        messages = body.get("messages") or []
        texts = [m.get("content") or "" for m in messages]
        prompt = next((t for m, t in zip(reversed(messages), reversed(texts)) if m.get("role") == "user"), "")
        said = conversation.named_results([_message(m) for m in messages])
    else:
        texts = [body.get("system") or "", body.get("prompt") or ""]
        prompt = texts[1]
        said = (*([Message("system", texts[0])] if texts[0] else []), Message("user", prompt))
    return Ask(
        # Ollama resolves a bare name and ``name:latest`` alike; the reply echoes the name as sent.
        model=model.removesuffix(":latest"),
        prompt=prompt,
        stream=body.get("stream") is not False,
        prompt_tokens=sum(len(tokens.words(t)) for t in texts) + 4 * (len(texts) if kind == CHAT else 1),
        echo=(("route", kind), ("model", model)),
        messages=said,
        tools=conversation.tool_names(body.get("tools"), "function"),
    )


def _message(message: dict[str, object]) -> Message:
    """One chat message; a ``tool`` message names its tool (``tool_name``)."""
    calls = [call.get("function") for call in conversation.dicts(message.get("tool_calls"))]
    return Message(
        conversation.string(message.get("role")),
        conversation.string(message.get("content")),
        calls=tuple(conversation.string(f.get("name")) for f in conversation.dicts(calls)),
        result_of=conversation.string(message.get("tool_name")),
    )


# -- bodies ----------------------------------------------------------------

# Stand-in durations in nanoseconds: the done line always reports them.
LOAD_NS = 41_295_167
PROMPT_EVAL_NS = 24_573_166
EVAL_NS_PER_TOKEN = 7_730_605
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "stop"}
PROMPT_MARK = b"\x00"  # in a done body: where the response puts its ``prompt_eval_count``
CONTEXT_MARK = b"\x01"  # in a done body: where /api/generate puts its ``context``
STREAM_ERROR_MESSAGE = "an error was encountered while running the model"
TOKEN_CACHE = 16384


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _text_body(text: str) -> bytes:
    return dumps(text)


def _arguments(arguments: str) -> dict[str, object]:
    """A call's arguments as the object Ollama sends; ``{}`` for text that is no JSON object."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def tool_call(call_id: str, index: int, name: str, arguments: str) -> dict[str, object]:
    return {"id": call_id, "function": {"index": index, "name": name, "arguments": _arguments(arguments)}}


def metrics(prompt: bytes, eval_count: int) -> bytes:
    """The metrics of a done line, ``prompt`` being its ``"prompt_eval_count":N,`` (or nothing)."""
    eval_ns = eval_count * EVAL_NS_PER_TOKEN
    total = LOAD_NS + PROMPT_EVAL_NS + eval_ns
    evals = b',"eval_count":%d,"eval_duration":%d' % (eval_count, eval_ns) if eval_count else b""
    return b'"total_duration":%d,"load_duration":%d,%s"prompt_eval_duration":%d%s' % (
        total, LOAD_NS, prompt, PROMPT_EVAL_NS, evals)


def prompt_count(count: int) -> bytes:
    return b'"prompt_eval_count":%d,' % count if count else b""


def done_body(reason: str | None, usage: events.Usage | None, eval_count: int) -> bytes:
    """The done line after its message: ``done``, ``done_reason`` (none without a finish),
    the generate route's context and the metrics; marks where the response's own go."""
    reason_part = b',"done_reason":' + dumps(FINISH_REASONS.get(reason, reason)) if reason is not None else b""
    prompt = PROMPT_MARK if usage is None else prompt_count(usage.prompt_tokens)
    count = eval_count if usage is None else usage.completion_tokens
    return b'"done":true' + reason_part + b"," + CONTEXT_MARK + metrics(prompt, count) + b"}\n"


def error_line(message: str | None) -> bytes:
    return dumps({"error": STREAM_ERROR_MESSAGE if message is None else message}) + b"\n"


# The line every reader takes in stride while a stall holds the stream: an
# empty chunk that both routes' clients parse (NDJSON has no comments, and a
# blank line is a JSONDecodeError in ollama-python).
HEARTBEAT = b'{"message":{"role":"assistant","content":""},"response":"","done":false}\n'


def event_body(event: events.Event) -> bytes:
    """The body of an event that needs nothing of the stream around it."""
    match event:
        case events.Text(text):
            return _text_body(text)
        case events.Start() | events.TextStart() | events.TextEnd() | events.ToolCallStart() \
                | events.ToolCallArguments() | events.Finish() | events.Usage():
            return b""  # no line of their own: a call goes whole at its end, the finish on the done line
        case events.Error(message):
            return error_line(message)
        case events.Comment():
            return HEARTBEAT
        case events.Raw(data):
            return data
        case events.Done():
            return done_body("stop", None, 0)
        case events.ToolCallEnd(index):
            return dumps([tool_call("", index, "", "")])
    raise TypeError(f"cannot encode {event!r}")


def event_bodies(stream: Sequence[events.Event]) -> list[bytes]:
    """The bodies of a whole stream: a call's line needs its start and arguments
    before it, the done line the finish, usage and token count before it."""
    out: list[bytes] = []
    starts: dict[int, events.ToolCallStart] = {}
    arguments: dict[int, list[str]] = {}
    reason: str | None = None
    usage: events.Usage | None = None
    count = 0
    for event in stream:
        kind = type(event)
        if kind is events.Text:
            count += 1
            out.append(_text_body(event.text))  # type: ignore[union-attr]
            continue
        match event:
            case events.ToolCallStart(index):
                starts[index] = event
                arguments[index] = []
                count += 1
            case events.ToolCallArguments(index, piece):
                arguments.setdefault(index, []).append(piece)
                count += 1
            case events.ToolCallEnd(index) if index in starts:
                start = starts[index]
                call = tool_call(start.id, index, start.name, "".join(arguments.get(index, ())))
                out.append(dumps([call]))
                continue
            case events.Finish(word):
                reason = word
            case events.Usage():
                usage = event
            case events.Done():
                out.append(done_body(reason, usage, count))
                continue
        out.append(event_body(event))
    return out


def _said(line: dict[str, object]) -> events.Event | None:
    """What a line says: its text (``message.content``, or generate's ``response``),
    else its first call (whole, its ``arguments`` as JSON), else ``done``."""
    if error := reading.error_in(line):
        return error
    message = reading.obj(line.get("message"))
    if text := reading.string(message.get("content")) or reading.string(line.get("response")):
        return events.Text(text)
    for call in reading.dicts(message.get("tool_calls")):
        function = reading.obj(call.get("function"))
        return events.ToolCallArguments(reading.integer(function.get("index")),
                                        reading.compact(function.get("arguments") or {}))
    return events.Done() if line.get("done") is True else None


# -- responses -------------------------------------------------------------

def created_at(created: int) -> str:
    """Go's RFC 3339 time with its fractional zeros trimmed: whole seconds print none."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))


_CHAT_TEXT = (b'"message":{"role":"assistant","content":', b'},"done":false}\n')
_CHAT_CALL: tuple[bytes, bytes | None] = (b'"message":{"role":"assistant","content":"","tool_calls":', b'},"done":false}\n')
_CHAT_DONE = b'"message":{"role":"assistant","content":""},'
_GENERATE_TEXT = (b'"response":', b',"done":false}\n')
_GENERATE_DONE = b'"response":"",'
_GENERATE_CALL: tuple[bytes, bytes | None] = (b'"response":"","done":false}\n', None)  # no calls on generate


class Encoder:
    """Joins a response's head (model, created_at) and its route's wrapping onto
    each body: a lookup and a join a line. /api/generate has no tool calls, so
    a call there is an empty ``response`` line."""

    def __init__(self, ask: Ask, created: int) -> None:
        self.route = str(ask.option("route", CHAT))
        self.model = str(ask.option("model", ask.model))
        self.created_at = created_at(created)
        self.prompt_tokens = ask.prompt_tokens
        head = b'{"model":' + dumps(self.model) + b',"created_at":' + dumps(self.created_at) + b","
        self._head = head
        if self.route == CHAT:
            text, call, done = _CHAT_TEXT, _CHAT_CALL, _CHAT_DONE
            self._context = b""
        else:
            text, call, done = _GENERATE_TEXT, _GENERATE_CALL, _GENERATE_DONE
            self._context = b'"context":' + dumps(context(ask.prompt_tokens)) + b","
        self._text = (head + text[0], text[1])
        self._call = (head + call[0], call[1])
        self._done = head + done
        self._prompt = prompt_count(ask.prompt_tokens)

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        kind = type(event)
        if kind is events.Text:
            return b"".join((self._text[0], body, self._text[1]))
        if kind is events.Done:
            return self._done + body.replace(PROMPT_MARK, self._prompt).replace(CONTEXT_MARK, self._context)
        if kind is events.ToolCallEnd:
            before, after = self._call
            return before if after is None else b"".join((before, body, after))
        return body

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return self.frame(index, event_body(event), event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        """The one object of a ``stream: false`` reply: the done line with the whole message."""
        folded = events.fold(stream)
        usage = folded.usage or events.Usage(self.prompt_tokens, 0)
        if self.route == CHAT:
            message: dict[str, object] = {"role": "assistant", "content": folded.text}
            if folded.tool_calls:
                message["tool_calls"] = [tool_call(call.id, i, call.name, call.arguments)
                                         for i, call in enumerate(folded.tool_calls)]
            reply = b'"message":' + dumps(message) + b","
        else:
            reply = b'"response":' + dumps(folded.text) + b","
        tail = done_body(folded.finish or "stop", usage, usage.completion_tokens)
        return self._head + reply + tail.replace(CONTEXT_MARK, self._context).removesuffix(b"\n")


def context(prompt_tokens: int) -> list[int]:
    """A stand-in for the token ids /api/generate returns to continue from."""
    return [(7919 * i) % 128_000 for i in range(1, max(prompt_tokens, 1) + 1)]


# -- errors ----------------------------------------------------------------

ERROR_CONTENT_TYPE = "application/json; charset=utf-8"  # gin's c.JSON


# What the server (or ollama.com for cloud models) answers with each status.
STATUS_ERRORS = {
    400: "invalid request (simulated by mockllm)",
    401: "unauthorized",
    403: "forbidden",
    404: 'model "mockllm" not found, try pulling it first',
    408: "request timeout",
    409: "conflict",
    413: "request entity too large",
    422: "unprocessable entity",
    429: "rate limited",
    500: STREAM_ERROR_MESSAGE,
    502: "bad gateway",
    # The scheduler's own words when OLLAMA_MAX_QUEUE is full.
    503: "server busy, please try again.  maximum pending requests exceeded",
    504: "gateway timeout",
}
RATE_LIMIT_HEADERS = {"retry-after": "1"}


# -- listings --------------------------------------------------------------

MODIFIED_AT = "2026-01-01T00:00:00Z"


def model_list(scenarios: Sequence[Scenario]) -> dict[str, object]:
    """``/api/tags``: every scenario as a pulled model, ``name:latest`` as Ollama lists them."""
    return {"models": [_model(s.name) for s in scenarios]}


def _model(name: str) -> dict[str, object]:
    tagged = name if ":" in name else name + ":latest"
    return {
        "name": tagged,
        "model": tagged,
        "modified_at": MODIFIED_AT,
        "size": 1024,
        "digest": hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest(),
        "details": {"parent_model": "", "format": "gguf", "family": "mockllm", "families": ["mockllm"],
                    "parameter_size": "0B", "quantization_level": "Q4_K_M"},
    }


def version(scenarios: Sequence[Scenario]) -> dict[str, str]:
    return {"version": VERSION}


# -- the dialect -------------------------------------------------------------

_ID_ALPHABET = string.ascii_lowercase + string.digits


class Ollama(Dialect):
    name = NAME
    title = "Ollama"
    routes = (Route("POST", "/api/chat", CHAT), Route("POST", "/api/generate", GENERATE))
    listings = (Listing("/api/tags", model_list), Listing("/api/version", version))
    framing = NDJSON
    allow_headers = ("Authorization", "Content-Type", "Accept", "User-Agent")
    expose_headers = ("retry-after",)
    heartbeat = HEARTBEAT
    error_content_type = ERROR_CONTENT_TYPE
    finish_reasons = FINISH_REASONS

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body, call.route.kind or CHAT)

    def call_id(self, rng: random.Random) -> str:
        """``call_`` and 8 of ``[a-z0-9]``, as the server's ``toolCallId``."""
        return "call_" + "".join(rng.choice(_ID_ALPHABET) for _ in range(8))

    def encoder(self, response: Response) -> Encoder:
        return Encoder(response.ask, response.created)

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return (("Content-Type", "application/x-ndjson" if streaming else ERROR_CONTENT_TYPE),)

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return event_bodies(stream)

    def understand(self, frame: bytes) -> events.Event | None:
        value = reading.json_object(frame)
        return None if value is None else _said(value)

    def error_body(self, error: RequestError) -> bytes:
        """``{"error":"message"}``, compact, as gin writes it."""
        return dumps({"error": error.message})

    def status_error(self, status: int) -> RequestError:
        message = STATUS_ERRORS.get(status, f"error {status}")
        return RequestError(status, message, type="server_error" if status >= 500 else "invalid_request_error",
                            headers=RATE_LIMIT_HEADERS if status == 429 else None)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = self.routes[0]
        return Example(route.path, Call(route), {
            "model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream,
        })


DIALECT = Ollama()
