"""OpenAI Chat Completions: request parsing, chunk encoding, error bodies.

The bytes follow recorded API output (see shared/wire-format.md §2): compact
JSON, keys in the API's order, raw UTF-8, ``data: [DONE]`` at the end. An
event's body is the same in every response and a text token's is encoded once
per process; the response's own head and padding are joined on as each chunk
is written (``Encoder.frame``).
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import random
import string
from collections.abc import Mapping

from .. import events, sse, tokens
from ..errors import RequestError
from ..scenario import Reply
from . import Ask

NAME = "openai-chat"
_ALNUM = string.ascii_letters + string.digits
# Random bytes to letters and digits in one ``translate``: a response draws
# several ids and paddings, and per-character draws would cost more than
# encoding its tokens.
_TO_ALNUM = bytes(ord(_ALNUM[i % len(_ALNUM)]) for i in range(256))
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PRETTY = json.JSONEncoder(ensure_ascii=False, indent=4).encode


# -- requests --------------------------------------------------------------

def parse(body: object) -> Ask:
    """Validate a decoded request body the way the real API does."""
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.", code="invalid_type")
    model = _require(body, "model", str, "a string")
    messages = _require(body, "messages", list, "an array")
    if not messages:
        raise RequestError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _type_error(f"messages[{i}]", "an object", message)
        if not isinstance(message.get("role"), str):
            raise RequestError(
                400,
                f"Missing required parameter: 'messages[{i}].role'.",
                param=f"messages[{i}].role",
                code="missing_required_parameter",
            )
    stream = _optional(body, "stream", bool, "a boolean", False)
    options = _optional(body, "stream_options", dict, "an object", None) or {}
    if options and not stream:
        raise RequestError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    include_usage = _optional(options, "include_usage", bool, "a boolean", False, "stream_options.")
    obfuscation = _optional(options, "include_obfuscation", bool, "a boolean", True, "stream_options.")
    texts = [_text_of(m.get("content")) for m in messages]
    prompt = next((t for m, t in zip(reversed(messages), reversed(texts)) if m["role"] == "user"), "")
    return Ask(
        model=model,
        prompt=prompt,
        stream=stream,
        include_usage=include_usage,
        include_obfuscation=obfuscation,
        prompt_tokens=sum(len(tokens.words(t)) for t in texts) + 3 * len(messages),
    )


def _require(body: Mapping, key: str, kind: type, what: str):
    if key not in body:
        raise RequestError(
            400, f"Missing required parameter: '{key}'.", param=key, code="missing_required_parameter"
        )
    return _optional(body, key, kind, what, None)


def _optional(body: Mapping, key: str, kind: type, what: str, default, prefix: str = ""):
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _type_error(prefix + key, what, value)
    return value


def _type_error(param: str, what: str, value: object) -> RequestError:
    got = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
    return RequestError(
        400,
        f"Invalid type for '{param}': expected {what}, but got {got} instead.",
        param=param,
        code="invalid_type",
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

def error_body(error: RequestError) -> bytes:
    """The API's error object, 4-space pretty-printed with a trailing newline."""
    body = {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
    return (_PRETTY({**body, **error.details}) + "\n").encode("utf-8")


ERROR_CONTENT_TYPE = "application/json; charset=utf-8"


# -- responses -------------------------------------------------------------

def random_id(rng: random.Random, prefix: str, length: int) -> str:
    return prefix + alnum(rng, length)


def alnum(rng: random.Random, length: int) -> str:
    return rng.randbytes(length).translate(_TO_ALNUM).decode("ascii")


def request_id(rng: random.Random) -> str:
    return "req_" + rng.randbytes(16).hex()


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict:
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


def _tool_call_body(call: dict) -> bytes:
    return _DUMPS({"tool_calls": [call]}).encode("utf-8") + _DELTA_TAIL


def _head_rests(model: str, fingerprint: str, include_usage: bool) -> tuple[bytes, bytes]:
    """The part of a chunk's head after ``created``: for content chunks, and for the usage chunk.
    Kept for model names of a usual length: the name comes from the request,
    and a cache of megabyte-long names would be a client's to fill."""
    make = _shared_head_rests if len(model) <= 256 else _make_head_rests
    return make(model, fingerprint, include_usage)


def _make_head_rests(model: str, fingerprint: str, include_usage: bool) -> tuple[bytes, bytes]:
    usage_rest = (f'"model":{_DUMPS(model)},"service_tier":"default",'
                  f'"system_fingerprint":{_DUMPS(fingerprint)},').encode("utf-8")
    chunk_rest = usage_rest + (b'"usage":null,' if include_usage else b"") + b'"choices":[{"index":0,"delta":'
    return chunk_rest, usage_rest


_shared_head_rests = functools.lru_cache(maxsize=256)(_make_head_rests)


_event_text = operator.attrgetter("text")


def event_body(event: events.Event) -> bytes:
    """The event's part of its frame, the same in every response; the whole
    frame for events without a head (``Encoder.frame`` adds the rest)."""
    match event:
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
            return _finish_body(reason)
        case events.Usage(prompt_tokens, completion_tokens):
            usage = _DUMPS(usage_object(prompt_tokens, completion_tokens)).encode("utf-8")
            return b'"usage":' + usage + b',"choices":[]'
        case events.Done():
            return b"data: [DONE]\n\n"
        case events.Error(message, type_, code):
            error = {"message": message, "type": type_, "param": None, "code": code}
            return sse.data(_DUMPS({"error": error}).encode("utf-8"))
        case events.Comment(text):
            return sse.comment(text)
        case events.Raw(data):
            return data
    raise TypeError(f"cannot encode {event!r}")


def event_bodies(stream: list[events.Event]) -> list[bytes]:
    """``event_body`` for a whole stream, with runs of text (most of any stream)
    looked up without a Python-level step per token."""
    out: list[bytes] = []
    for kind, run in itertools.groupby(stream, type):
        out += map(_text_body, map(_event_text, run)) if kind is events.Text else map(event_body, run)
    return out


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
        self._heads = dict.fromkeys(events.CHUNKS, start + chunk_rest)
        self._heads[events.Usage] = start + usage_rest
        self._paddings = _PADDING_TABLE if ask.include_obfuscation else _NO_PADDING_TABLE
        self._first_padding = int.from_bytes(padding[:2], "big")
        self.completion_id = completion_id
        self.created = created
        self.model = ask.model
        self.fingerprint = fingerprint

    def frame(self, index: int, beat) -> bytes:
        """The bytes of the ``index``-th beat of a script, from its body."""
        return self._framed(index, beat.data, type(beat.event))

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        """The whole frame of one event, as the ``index``-th of the stream."""
        return self._framed(index, event_body(event), type(event))

    def _framed(self, index: int, body: bytes, kind: type) -> bytes:
        head = self._heads.get(kind)
        if head is None:
            return body
        return b"".join((head, body, self._paddings[(self._first_padding + index) % PADDINGS]))

    def error_response(self, error: RequestError) -> tuple[str, bytes]:
        """The content type and body of an HTTP error in this API's shape."""
        return ERROR_CONTENT_TYPE, error_body(error)

    def completion(self, reply: Reply, call_ids: list[str], prompt_tokens: int, completion_tokens: int) -> bytes:
        """The whole ``chat.completion`` object for ``stream: false``, pretty-printed as the API does."""
        message: dict = {"role": "assistant", "content": reply.text if reply.tokens or not reply.tool_calls else None,
                         "refusal": None, "annotations": []}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call, call_id in zip(reply.tool_calls, call_ids)
            ]
        body = {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
            "usage": usage_object(prompt_tokens, completion_tokens),
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
        }
        return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
