"""OpenAI Chat Completions: request parsing, chunk encoding, error bodies.

The bytes follow recorded API output (see shared/wire-format.md §2): compact
JSON, keys in the API's order, raw UTF-8, ``data: [DONE]`` at the end. An
event's body is the same in every response and a text token's is encoded once
per process; the response's own head and padding are joined on as each chunk
is written (``Encoder.frame``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import operator
import random
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import events, sse, tokens
from ..errors import RequestError
from ..scenario import Scenario
from . import conversation, fields, reading
from .base import Ask, Call, Dialect, Example, Headers, Listing, Message, Response, Route

if TYPE_CHECKING:
    from ..quota import Budget

NAME = "openai-chat"
_ALNUM = string.ascii_letters + string.digits
# Random bytes to letters and digits in one ``translate``: a response draws
# several ids and paddings, and per-character draws would cost more than
# encoding its tokens.
_TO_ALNUM = bytes(ord(_ALNUM[i % len(_ALNUM)]) for i in range(256))
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PRETTY = json.JSONEncoder(ensure_ascii=False, indent=4).encode


# -- requests --------------------------------------------------------------

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
MAX_CHOICES = 128  # the API's ceiling for ``n``
MAX_STOP = 4
MAX_TOP_LOGPROBS = 20
TOOL_TYPES = ("function", "custom")
TOOL_CHOICES = ("none", "auto", "required")


def parse(body: object) -> Ask:
    """Validate a decoded request body the way the real API does: each known
    field's type and range, with the API's message, ``param`` and ``code``."""
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.", code="invalid_type")
    model = fields.string(body, "model", required=True)
    messages = _messages(body)
    if not _OPTIONS.isdisjoint(body):  # most requests send none of them
        _options(body)
    stream = fields.boolean(body, "stream")
    options = fields.obj(body, "stream_options") or {}
    if options and not stream:
        raise RequestError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    include_usage = fields.boolean(options, "include_usage", prefix="stream_options.")
    obfuscation = fields.boolean(options, "include_obfuscation", prefix="stream_options.", default=True)
    texts = [_text_of(m.get("content")) for m in messages]
    prompt = next((t for m, t in zip(reversed(messages), reversed(texts)) if m["role"] == "user"), "")
    return Ask(
        model=model,
        prompt=prompt,
        stream=stream,
        include_usage=include_usage,
        include_obfuscation=obfuscation,
        prompt_tokens=sum(len(tokens.words(t)) for t in texts) + 3 * len(messages),
        messages=conversation.named_results([_message(m, t) for m, t in zip(messages, texts)]),
        tools=conversation.tool_names(body.get("tools"), "function", "custom"),
        metadata=conversation.metadata(body.get("metadata"), body.get("user")),
    )


def _options(body: dict[str, object]) -> None:
    """The optional fields that only need checking (``_OPTIONS``), in the API's order."""
    _choices(body)
    fields.integer(body, "max_tokens", minimum=1)
    fields.integer(body, "max_completion_tokens", minimum=1)
    fields.decimal(body, "temperature", minimum=0, maximum=2)
    fields.decimal(body, "top_p", minimum=0, maximum=1)
    fields.decimal(body, "presence_penalty", minimum=-2, maximum=2)
    fields.decimal(body, "frequency_penalty", minimum=-2, maximum=2)
    fields.integer(body, "seed")
    fields.string(body, "user")
    check_stop(body)
    _logprobs(body)
    _tools(body)


_OPTIONS = frozenset({"n", "max_tokens", "max_completion_tokens", "temperature", "top_p", "presence_penalty",
                      "frequency_penalty", "seed", "user", "stop", "logprobs", "top_logprobs", "tools",
                      "tool_choice"})


# The roles of the conversation that older or newer names stand for.
_ROLE_OF = {"developer": "system", "function": "tool"}


def _message(message: dict[str, object], text: str) -> Message:
    role = conversation.string(message["role"])
    calls = list(conversation.dicts(message.get("tool_calls")))
    if isinstance(legacy := message.get("function_call"), dict):
        calls.append({"function": legacy})
    return Message(
        _ROLE_OF.get(role, role),
        text,
        calls=tuple(conversation.string(_function(call).get("name")) for call in calls),
        call_ids=tuple(conversation.string(call.get("id")) for call in calls),
        result_of=conversation.string(message.get("name")) if role == "function" else "",
        call_id=conversation.string(message.get("tool_call_id")),
    )


def _function(call: dict[str, object]) -> dict[str, object]:
    function = call.get("function")
    return function if isinstance(function, dict) else {}


def _messages(body: dict[str, object]) -> list[dict[str, object]]:
    messages = fields.required(body, "messages")
    if not isinstance(messages, list):
        raise fields.type_error("messages", "an array of objects", messages)
    if not messages:
        raise RequestError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        at = f"messages[{i}]"
        if not isinstance(message, dict):
            raise fields.type_error(at, "an object", message)
        role = fields.string(message, "role", prefix=at + ".", required=True)
        if role not in ROLES:
            raise fields.invalid_value(at + ".role", role, ROLES)
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise fields.type_error(at + ".content", "one of a string or array of objects", content)
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                raise fields.type_error(f"{at}.content[{j}]", "an object", part)
            if fields.string(part, "type", prefix=f"{at}.content[{j}].", required=True) == "text":
                fields.string(part, "text", prefix=f"{at}.content[{j}].", required=True)
    return messages


def _choices(body: dict[str, object]) -> None:
    """``n`` as the API bounds it; above 1 refused: mockllm streams one choice,
    and a client asking for several would silently get a reply of the wrong shape."""
    n = fields.integer(body, "n", minimum=1, maximum=MAX_CHOICES, default=1)
    if n > 1:
        raise RequestError(
            400,
            # The API's own pattern for a value a model does not support.
            f"Unsupported value: 'n' does not support {n} with this model. "
            "Only the default (1) value is supported (mockllm answers with one choice).",
            param="n",
            code="unsupported_value",
        )


def check_stop(body: dict[str, object]) -> None:
    """``stop``: a string, or up to ``MAX_STOP`` strings (also the completions API's rule)."""
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list):
        raise fields.type_error("stop", "one of a string or array of strings", stop)
    if len(stop) > MAX_STOP:
        raise RequestError(
            400,
            f"Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP}, "
            f"but got an array with length {len(stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    for i, item in enumerate(stop):
        if not isinstance(item, str):
            raise fields.type_error(f"stop[{i}]", "a string", item)


def _logprobs(body: dict[str, object]) -> None:
    logprobs = fields.boolean(body, "logprobs")
    top = fields.integer(body, "top_logprobs", minimum=0, maximum=MAX_TOP_LOGPROBS)
    if top is not None and not logprobs:
        raise RequestError(
            400, "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.", param="top_logprobs"
        )


def _tools(body: dict[str, object]) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise fields.type_error("tools", "an array of objects", tools)
        for i, tool in enumerate(tools):
            at = f"tools[{i}]"
            if not isinstance(tool, dict):
                raise fields.type_error(at, "an object", tool)
            type_ = fields.string(tool, "type", prefix=at + ".", required=True)
            if type_ not in TOOL_TYPES:
                raise fields.invalid_value(at + ".type", type_, TOOL_TYPES)
            definition = fields.obj(tool, type_, prefix=at + ".", required=True)
            fields.string(definition, "name", prefix=f"{at}.{type_}.", required=True)
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise fields.invalid_value("tool_choice", choice, TOOL_CHOICES)
    elif isinstance(choice, dict):
        type_ = fields.string(choice, "type", prefix="tool_choice.", default="function")
        if type_ in TOOL_TYPES:
            definition = fields.obj(choice, type_, prefix="tool_choice.", required=True)
            fields.string(definition, "name", prefix=f"tool_choice.{type_}.", required=True)
    else:
        # Sic: the API's own wording says "one of" twice.
        raise fields.type_error("tool_choice", "one of one of 'none', 'auto', or 'required' or object", choice)
    if not tools:
        raise RequestError(
            400,
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )


def _text_of(content: object) -> str:
    """Message content is a string or a list of parts; only text parts count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


# -- errors ----------------------------------------------------------------

ERROR_CONTENT_TYPE = "application/json; charset=utf-8"


# -- responses -------------------------------------------------------------

def random_id(rng: random.Random, prefix: str, length: int) -> str:
    return prefix + alnum(rng, length)


def alnum(rng: random.Random, length: int) -> str:
    return rng.randbytes(length).translate(_TO_ALNUM).decode("ascii")


def request_id(rng: random.Random) -> str:
    return "req_" + rng.randbytes(16).hex()


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict[str, object]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def headers(rng: random.Random, *, streaming: bool, processing_ms: int) -> tuple[tuple[str, str], ...]:
    """The headers the API sends with a successful response."""
    content_type = "text/event-stream; charset=utf-8" if streaming else "application/json"
    return (
        ("Content-Type", content_type),
        ("x-request-id", request_id(rng)),
        ("openai-processing-ms", str(processing_ms)),
        ("openai-version", "2020-10-01"),
        ("x-ratelimit-limit-requests", "500"),
        ("x-ratelimit-limit-tokens", "200000"),
        ("x-ratelimit-remaining-requests", "499"),
        ("x-ratelimit-remaining-tokens", "199996"),
        ("x-ratelimit-reset-requests", "120ms"),
        ("x-ratelimit-reset-tokens", "1ms"),
    )


def go_duration(seconds: float) -> str:
    """A reset as the API writes it, Go's ``Duration.String`` to the
    millisecond, rounded up: ``59ms``, ``1s``, ``8.64s``, ``6m0s``."""
    ms = math.ceil(seconds * 1000 - 1e-6)  # a float a hair over a whole millisecond is that millisecond
    if ms < 1000:
        return f"{ms}ms" if ms > 0 else "0s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".")
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{secs}s"


def rate_limit_headers(budget: Budget) -> Headers:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, in the API's
    order, for the limits the quota sets; a refusal's ``retry-after-ms``."""
    limits = [(kind, allowance) for kind, allowance in (("requests", budget.requests), ("tokens", budget.tokens))
              if allowance is not None]
    headers = [(f"x-ratelimit-limit-{kind}", str(allowance.limit)) for kind, allowance in limits]
    headers += [(f"x-ratelimit-remaining-{kind}", str(allowance.remaining)) for kind, allowance in limits]
    headers += [(f"x-ratelimit-reset-{kind}", go_duration(allowance.reset)) for kind, allowance in limits]
    if budget.retry_after is not None:
        headers.append(("retry-after-ms", str(math.ceil(budget.retry_after * 1000))))
    return tuple(headers)


def _padding_table(count: int) -> tuple[bytes, ...]:
    """Obfuscation paddings (0 to 15 letters and digits, as the API sends), made
    once per process from a fixed seed; a response takes them in turn from a
    position it draws, so it pays nothing per chunk and replays are identical."""
    rng = random.Random("mockllm obfuscation")
    return tuple(b',"obfuscation":"' + alnum(rng, rng.randrange(16)).encode() + b'"}\n\n' for _ in range(count))


PADDINGS = 1024
_PADDING_TABLE = _padding_table(PADDINGS)
_NO_PADDING_TABLE = (b"}\n\n",) * PADDINGS


_DELTA_TAIL = b',"logprobs":null,"finish_reason":null}]'


# Token bodies kept: enough for every token of a large library, few enough
# (a few MB) that a huge reply streamed once does not stay in memory.
TOKEN_CACHE = 16384


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _text_body(text: str) -> bytes:
    """A text chunk's body, the same in every response: tokens recur, so each
    is encoded once."""
    return b'{"content":' + _DUMPS(text).encode("utf-8") + b"}" + _DELTA_TAIL


@functools.lru_cache(maxsize=256)
def _start_body(content: str | None) -> bytes:
    delta = {"role": "assistant", "content": content}
    if content is not None:
        delta["refusal"] = None
    return _DUMPS(delta).encode("utf-8") + _DELTA_TAIL


@functools.lru_cache(maxsize=256)
def _finish_body(reason: str) -> bytes:
    return b'{},"logprobs":null,"finish_reason":' + _DUMPS(reason).encode("utf-8") + b"}]"


def _tool_call_body(call: dict[str, object]) -> bytes:
    return _DUMPS({"tool_calls": [call]}).encode("utf-8") + _DELTA_TAIL


def _head_rests(model: str, fingerprint: str, include_usage: bool) -> tuple[bytes, bytes]:
    """The part of a chunk's head after ``created``: for content chunks, and for the usage chunk.
    Kept for model names of a usual length: the name comes from the request,
    and a cache of megabyte-long names would be a client's to fill."""
    make = _shared_head_rests if len(model) <= 256 else _make_head_rests
    return make(model, fingerprint, include_usage)


def _make_head_rests(model: str, fingerprint: str, include_usage: bool) -> tuple[bytes, bytes]:
    usage_rest = (f'"model":{_DUMPS(model)},"service_tier":"default",'
                  f'"system_fingerprint":{_DUMPS(fingerprint)},').encode()
    chunk_rest = usage_rest + (b'"usage":null,' if include_usage else b"") + b'"choices":[{"index":0,"delta":'
    return chunk_rest, usage_rest


_shared_head_rests = functools.lru_cache(maxsize=256)(_make_head_rests)


_event_text = operator.attrgetter("text")


def event_body(event: events.Event) -> bytes:
    """The event's part of its frame, the same in every response; the whole
    frame for events without a head (``Encoder.frame`` adds the rest)."""
    match event:
        case events.TextStart() | events.TextEnd() | events.ToolCallEnd():
            return b""  # no block frames: a chunk is a delta of the one choice
        case events.Text(text):
            return _text_body(text)
        case events.ToolCallArguments(index, arguments):
            return _tool_call_body({"index": index, "function": {"arguments": arguments}})
        case events.ToolCallStart(index, call_id, name):
            return _tool_call_body({"index": index, "id": call_id, "type": "function",
                                    "function": {"name": name, "arguments": ""}})
        case events.Start(content):
            return _start_body(content)
        case events.Finish(reason):
            return _finish_body(FINISH_REASONS.get(reason, reason))
        case events.Usage(prompt_tokens, completion_tokens):
            usage = _DUMPS(usage_object(prompt_tokens, completion_tokens)).encode("utf-8")
            return b'"usage":' + usage + b',"choices":[]'
        case events.Done():
            return b"data: [DONE]\n\n"
        case events.Error(message, type_, code):
            return sse.data(_DUMPS({"error": stream_error(message, type_, code)}).encode("utf-8"))
        case events.Comment(text):
            return sse.comment(text)
        case events.Raw(data):
            return data
    raise TypeError(f"cannot encode {event!r}")


def stream_error(message: str | None, type_: str | None, code: str | None) -> dict[str, object]:
    """The in-stream error object; the API's own words where a scenario leaves them out."""
    return {"message": STREAM_ERROR_MESSAGE if message is None else message,
            "type": type_ or "server_error", "param": None, "code": code}


STREAM_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


def event_bodies(stream: Sequence[events.Event]) -> list[bytes]:
    """``event_body`` for a whole stream, with runs of text (most of any stream)
    looked up without a Python-level step per token."""
    out: list[bytes] = []
    for kind, run in itertools.groupby(stream, type):
        if kind is events.Text:
            out += map(_text_body, map(_event_text, run))
        else:
            out += map(event_body, run)
    return out


def understand(frame: bytes) -> events.Event | None:
    return reading.sse_understood(frame, _chunk, b"[DONE]")


def _chunk(chunk: dict[str, object]) -> events.Event | None:
    """What a ``chat.completion.chunk`` says: its content first, then a call
    opening, the finish, the role chunk, usage."""
    if error := reading.error_in(chunk):
        return error
    choice = reading.first(chunk.get("choices"))
    delta = reading.obj(choice.get("delta"))
    content = delta.get("content")
    if isinstance(content, str) and content:
        return events.Text(content)
    if call := _tool_call_event(delta.get("tool_calls")):
        return call
    if finish := reading.string(choice.get("finish_reason")):
        return events.Finish(finish)
    if "role" in delta:
        return events.Start(content if isinstance(content, str) else None)
    return usage_event(chunk)


def _tool_call_event(calls: object) -> events.ToolCallArguments | events.ToolCallStart | None:
    """The first call delta with argument text, else the first that opens a call."""
    opening = None
    for call in reading.dicts(calls):
        index = reading.integer(call.get("index"))
        function = reading.obj(call.get("function"))
        if arguments := reading.string(function.get("arguments")):
            return events.ToolCallArguments(index, arguments)
        if opening is None and (call.get("id") or function.get("name")):
            opening = events.ToolCallStart(index, reading.string(call.get("id")), reading.string(function.get("name")))
    return opening


def usage_event(chunk: dict[str, object]) -> events.Usage | None:
    """An OpenAI chunk's ``usage`` object, where it has one."""
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    return events.Usage(reading.integer(usage.get("prompt_tokens")), reading.integer(usage.get("completion_tokens")))


# Events that are one choice's delta: framed alike, with the response's head.
CHUNKS = (events.Start, events.Text, events.ToolCallStart, events.ToolCallArguments, events.Finish)
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter"}


class Encoder:
    """Encodes the events of one response into chunk frames.

    A chunk is ``head + body + padding``. The head (id, created, model,
    fingerprint) is the response's and the same in every chunk; the body is
    the event's alone, and a text token's body is encoded once per process;
    the padding is the API's obfuscation (on by default, off with
    ``stream_options.include_obfuscation: false``), taken in turn from a
    shared table at a position drawn from the response's seeded bytes.
    A compiled script keeps bodies only; ``frame`` adds the head and padding
    as each is written, so a response holds no bytes of its own per token.
    """

    def __init__(
        self, ask: Ask, *, completion_id: str, created: int, fingerprint: str, padding: bytes
    ) -> None:
        start = b'data: {"id":%s,"object":"chat.completion.chunk","created":%d,' % (
            _DUMPS(completion_id).encode("utf-8"), created)
        chunk_rest, usage_rest = _head_rests(ask.model, fingerprint, ask.include_usage)
        # The events whose frame is head + body + padding, and their heads.
        self._heads: dict[type, bytes] = dict.fromkeys(CHUNKS, start + chunk_rest)
        self._heads[events.Usage] = start + usage_rest
        self._paddings = _PADDING_TABLE if ask.include_obfuscation else _NO_PADDING_TABLE
        self._first_padding = int.from_bytes(padding[:2], "big")
        self.completion_id = completion_id
        self.created = created
        self.model = ask.model
        self.fingerprint = fingerprint
        self.prompt_tokens = ask.prompt_tokens

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        head = self._heads.get(type(event))
        if head is None:
            return body
        return b"".join((head, body, self._paddings[(self._first_padding + index) % PADDINGS]))

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return self.frame(index, event_body(event), event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        """The whole ``chat.completion`` object for ``stream: false``, pretty-printed as the API does."""
        folded = events.fold(stream)
        message: dict[str, object] = {"role": "assistant", "content": folded.text if folded.has_text else None,
                         "refusal": None, "annotations": []}
        if folded.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in folded.tool_calls
            ]
        usage = folded.usage or events.Usage(self.prompt_tokens, 0)
        finish = FINISH_REASONS.get(folded.finish or "stop", folded.finish)
        body = {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage_object(usage.prompt_tokens, usage.completion_tokens),
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
        }
        return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


# -- the dialect -------------------------------------------------------------

# What the real API answers with each status: error type, code, message.
STATUS_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request (simulated by mockllm)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-mock****. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("invalid_request_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with another request."),
    422: ("invalid_request_error", "unprocessable_entity", "The request could not be processed."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. "
        "Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
    504: ("server_error", None, "Gateway timeout."),
}

RATE_LIMIT_HEADERS = {
    "retry-after": "1",
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-limit-tokens": "200000",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-remaining-tokens": "199996",
    "x-ratelimit-reset-requests": "1s",
    "x-ratelimit-reset-tokens": "1ms",
}


def model_list(scenarios: Sequence[Scenario]) -> dict[str, object]:
    return {"object": "list", "data": [
        {"id": s.name, "object": "model", "created": 0, "owned_by": "mockllm", "description": s.description}
        for s in scenarios
    ]}


# Headers a page's SDK sends and reads; the server lets browsers do both (CORS).
ALLOW_HEADERS = ("Authorization", "Content-Type", "Accept", "OpenAI-Organization", "OpenAI-Project")
EXPOSE_HEADERS = (
    "x-request-id", "retry-after", "retry-after-ms", "x-should-retry", "openai-processing-ms",
    *(name for name in RATE_LIMIT_HEADERS if name.startswith("x-")),
)


class OpenAIFamily(Dialect):
    """What every OpenAI API's format shares (chat, completions, Responses,
    embeddings, and a front end's own route): the error object and the
    status table, the headers its SDKs send and read, the response headers
    and the tool call ids."""

    allow_headers = ALLOW_HEADERS
    expose_headers = EXPOSE_HEADERS
    error_content_type = ERROR_CONTENT_TYPE

    def call_id(self, rng: random.Random) -> str:
        return random_id(rng, "call_", 24)

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return headers(rng, streaming=streaming, processing_ms=round(first_token * 1000))

    def rate_limit_headers(self, budget: Budget, now: float) -> Headers:
        return rate_limit_headers(budget)

    def error_body(self, error: RequestError) -> bytes:
        """The API's error object, 4-space pretty-printed with a trailing newline."""
        body = {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
        # Last line of defence: a message that echoes a header decoded with surrogate
        # escapes still leaves as JSON (the escape ``\\udcff``), never as a 500.
        return (_PRETTY({**body, **error.details}) + "\n").encode("utf-8", "backslashreplace")

    def status_error(self, status: int) -> RequestError:
        """The error the API sends with ``status``, for the ``status`` fault; also the
        shape of every OpenAI-compatible format's (completions, embeddings)."""
        kind, code, message = STATUS_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status}.")
        )
        return RequestError(status, message, type=kind, code=code, headers=RATE_LIMIT_HEADERS if status == 429 else None)


class OpenAIChat(OpenAIFamily):
    name = "openai"
    title = "OpenAI Chat Completions"
    routes = (Route("POST", "/v1/chat/completions"),)
    listings = (Listing("/v1/models", model_list),)
    finish_reasons = FINISH_REASONS

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body)

    def encoder(self, response: Response) -> Encoder:
        return Encoder(
            response.ask,
            completion_id=random_id(response.rng, "chatcmpl-", 29),
            created=response.created,
            fingerprint=fingerprint(response.scenario),
            padding=response.padding,
        )

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return event_bodies(stream)

    def understand(self, frame: bytes) -> events.Event | None:
        return understand(frame)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = self.routes[0]
        return Example(route.path, Call(route), {
            "model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream,
        })


@functools.lru_cache(maxsize=1024)
def fingerprint(name: str) -> str:
    """A ``system_fingerprint`` per scenario, stable across runs."""
    return "fp_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]


DIALECT = OpenAIChat()
