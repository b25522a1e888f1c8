"""OpenAI legacy completions (``POST /v1/completions``): request parsing and
``text_completion`` chunks.

The bytes follow a recorded stream (shared/wire-format.md §3): compact JSON,
``choices`` before ``model``, ``text`` where chat has a delta, no role chunk,
no obfuscation, ``data: [DONE]`` at the end::

    data: {"id":"cmpl-…","object":"text_completion","created":N,"choices":[{"text":" +","index":0,
           "logprobs":null,"finish_reason":null}],"model":"M"}                 (one per token)
    data: {…"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}],"model":"M"}
    data: {"id":…,"created":N,"model":"M","usage":{…},"choices":[]}          (include_usage only)
    data: [DONE]

With ``stream_options.include_usage`` every chunk carries ``"usage":null``, as
the API sends; without it the key is absent. This API has no tool calls: a
reply's tool calls are not sent (only its text), and ``tool_calls`` finishes
as ``stop``. Errors are OpenAI's (``openai_chat``): the same shape, statuses,
rate-limit headers and in-stream ``{"error": …}`` frame.

A chunk is ``head + body + tail``: the body (the token's text and what follows
it in the choice) is the same in every response; the head (id, created) and
the tail (model) are the response's, joined on as each chunk is written.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence

from .. import events, sse, tokens
from ..errors import RequestError
from . import conversation, fields, openai_chat, reading
from .base import Ask, Call, Example, Headers, Message, Response, Route
from .openai_chat import TOKEN_CACHE, random_id

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# -- requests --------------------------------------------------------------

MAX_CHOICES = 128  # the API's ceilings for ``n``, ``best_of`` and ``logprobs``
MAX_BEST_OF = 20
MAX_LOGPROBS = 5
# The legacy validator's words for a ``prompt`` (or embeddings ``input``) of a
# shape it does not accept: a JSON path, no ``param``, no ``code``.
INVALID = "'$.{}' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."


def invalid(name: str) -> RequestError:
    return RequestError(400, INVALID.format(name))


def model_of(body: dict[str, object]) -> str:
    """``model``, required in the legacy endpoints' own words."""
    if body.get("model") is None:
        raise RequestError(400, "you must provide a model parameter")
    model: str = fields.string(body, "model", required=True)
    return model


def is_tokens(value: object) -> bool:
    """A token array: a list of non-negative integers (booleans are not)."""
    return isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value
    )


def prompts(value: object, name: str = "prompt") -> list[str | list[int]]:
    """A string, a list of strings, a token array, or a list of token arrays,
    as the API accepts for ``prompt`` (and embeddings for ``input``): each
    prompt, a string or a token array."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        raise invalid(name)
    if is_tokens(value):
        return [value]
    if all(isinstance(item, str) for item in value):
        return list(value)
    if all(is_tokens(item) and item for item in value):
        return list(value)
    raise invalid(name)


def unsupported(name: str, value: object, why: str) -> RequestError:
    """A value the real API takes but mockllm cannot answer faithfully: refused in
    the API's pattern for an unsupported value, rather than answered in a shape
    the client does not expect."""
    return RequestError(
        400, f"Unsupported value: '{name}' does not support {value!r} with this model. {why}",
        param=name, code="unsupported_value",
    )


def parse(body: object) -> Ask:
    """Validate a decoded request body as the API does, with its messages."""
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.", code="invalid_type")
    model = model_of(body)
    given = prompts(body["prompt"]) if body.get("prompt") is not None else [""]  # the API's default prompt
    if len(given) > 1:
        raise unsupported("prompt", f"an array of {len(given)} prompts", "Send one prompt a request "
                          "(mockllm answers with one choice).")
    n = fields.integer(body, "n", minimum=1, maximum=MAX_CHOICES, default=1)
    if n > 1:
        raise unsupported("n", n, "Only the default (1) value is supported (mockllm answers with one choice).")
    fields.integer(body, "best_of", minimum=0, maximum=MAX_BEST_OF)
    if fields.boolean(body, "echo"):
        raise unsupported("echo", True, "mockllm does not echo the prompt.")
    logprobs = fields.integer(body, "logprobs", minimum=0, maximum=MAX_LOGPROBS)
    if logprobs:
        raise unsupported("logprobs", logprobs, "mockllm sends no log probabilities (logprobs: null).")
    fields.integer(body, "max_tokens", minimum=0)
    fields.decimal(body, "temperature", minimum=0, maximum=2)
    fields.decimal(body, "top_p", minimum=0, maximum=1)
    fields.decimal(body, "presence_penalty", minimum=-2, maximum=2)
    fields.decimal(body, "frequency_penalty", minimum=-2, maximum=2)
    fields.integer(body, "seed")
    fields.string(body, "suffix")
    fields.string(body, "user")
    fields.obj(body, "logit_bias")
    openai_chat.check_stop(body)  # the same field, checked the same way
    stream = fields.boolean(body, "stream")
    options = fields.obj(body, "stream_options") or {}
    if options and not stream:
        raise RequestError(
            400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options", code="invalid_value",
        )
    include_usage = fields.boolean(options, "include_usage", prefix="stream_options.")
    prompt = given[0]
    text = prompt if isinstance(prompt, str) else ""  # a token array has no text for match rules
    return Ask(
        model=model,
        prompt=text,
        stream=stream,
        include_usage=include_usage,
        include_obfuscation=False,
        prompt_tokens=len(tokens.words(text)) if isinstance(prompt, str) else len(prompt),
        messages=(Message("user", text),),
        metadata=conversation.metadata(None, body.get("user")),
    )


# -- responses -------------------------------------------------------------

# The finish reasons of this API: it has no tool calls, so a reply that ends in
# them simply stops.
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "content_filter"}
_CHOICE_TAIL = b',"index":0,"logprobs":null,"finish_reason":'


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _text_body(text: str) -> bytes:
    """A token's body, the same in every response: its text and the rest of the choice."""
    return _DUMPS(text).encode("utf-8") + _CHOICE_TAIL + b"null}]"


@functools.lru_cache(maxsize=64)
def _finish_body(reason: str) -> bytes:
    return b'""' + _CHOICE_TAIL + _DUMPS(reason).encode("utf-8") + b"}]"


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def event_body(event: events.Event) -> bytes:
    """The event's part of its frame, the same in every response; the whole
    frame for events with no head (``Encoder.frame`` adds the rest)."""
    match event:
        case events.Text(text):
            return _text_body(text)
        case events.Finish(reason):
            return _finish_body(FINISH_REASONS.get(reason, reason))
        case events.Usage(prompt_tokens, completion_tokens):
            return b'"usage":' + _DUMPS(usage_object(prompt_tokens, completion_tokens)).encode("utf-8") + \
                b',"choices":[]'
        case events.Start() | events.TextStart() | events.TextEnd() | events.ToolCallStart() \
                | events.ToolCallArguments() | events.ToolCallEnd():
            return b""  # no role chunk, no blocks, and no tool calls in this API
        case events.Done():
            return b"data: [DONE]\n\n"
        case events.Error(message, type_, code):
            return sse.data(_DUMPS({"error": openai_chat.stream_error(message, type_, code)}).encode("utf-8"))
        case events.Comment(text):
            return sse.comment(text)
        case events.Raw(data):
            return data
    raise TypeError(f"cannot encode {event!r}")


def event_bodies(stream: Sequence[events.Event]) -> list[bytes]:
    text = events.Text
    return [_text_body(event.text) if type(event) is text else event_body(event) for event in stream]


def understand(frame: bytes) -> events.Event | None:
    return reading.sse_understood(frame, _chunk, b"[DONE]")


def _chunk(chunk: dict[str, object]) -> events.Event | None:
    """What a ``text_completion`` chunk says: its text, else its finish, else its usage."""
    if error := reading.error_in(chunk):
        return error
    choice = reading.first(chunk.get("choices"))
    if text := reading.string(choice.get("text")):
        return events.Text(text)
    if finish := reading.string(choice.get("finish_reason")):
        return events.Finish(finish)
    return openai_chat.usage_event(chunk)


class Encoder:
    """Encodes one response's events into ``text_completion`` chunks: the
    response's head and tail around each shared body."""

    def __init__(self, ask: Ask, *, completion_id: str, created: int) -> None:
        start = b'data: {"id":%s,"object":"text_completion","created":%d,' % (
            _DUMPS(completion_id).encode("utf-8"), created)
        model = _DUMPS(ask.model).encode("utf-8")
        chunk = (start + b'"choices":[{"text":',
                 b',"model":' + model + (b',"usage":null' if ask.include_usage else b"") + b"}\n\n")
        self._parts: dict[type, tuple[bytes, bytes]] = {
            events.Text: chunk,
            events.Finish: chunk,
            events.Usage: (start + b'"model":' + model + b",", b"}\n\n"),
        }
        self.completion_id = completion_id
        self.created = created
        self.model = ask.model
        self.prompt_tokens = ask.prompt_tokens

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        parts = self._parts.get(type(event))
        if parts is None:
            return body
        return b"".join((parts[0], body, parts[1]))

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return self.frame(index, event_body(event), event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        """The whole ``text_completion`` object for ``stream: false``: the reply's text only."""
        folded = events.fold(stream)
        usage = folded.usage or events.Usage(self.prompt_tokens, 0)
        finish = folded.finish or "stop"
        body = {
            "id": self.completion_id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"text": folded.text, "index": 0, "logprobs": None,
                         "finish_reason": FINISH_REASONS.get(finish, finish)}],
            "usage": usage_object(usage.prompt_tokens, usage.completion_tokens),
        }
        return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


def headers(rng: random.Random, *, streaming: bool, processing_ms: int) -> Headers:
    """OpenAI's headers, with the event stream's type as this route sends it
    (no charset) and its ``cache-control``."""
    common = tuple(h for h in openai_chat.headers(rng, streaming=streaming, processing_ms=processing_ms)
                   if h[0] != "Content-Type")
    if streaming:
        return (("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache, must-revalidate"), *common)
    return (("Content-Type", "application/json"), *common)


class OpenAICompletions(openai_chat.OpenAIFamily):
    name = "completions"
    title = "OpenAI legacy Completions"
    routes = (Route("POST", "/v1/completions"),)
    finish_reasons = FINISH_REASONS

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body)

    def encoder(self, response: Response) -> Encoder:
        return Encoder(response.ask, completion_id=random_id(response.rng, "cmpl-", 29), created=response.created)

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return headers(rng, streaming=streaming, processing_ms=round(first_token * 1000))

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return event_bodies(stream)

    def understand(self, frame: bytes) -> events.Event | None:
        return understand(frame)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = self.routes[0]
        return Example(route.path, Call(route), {"model": model, "prompt": prompt, "stream": stream})


DIALECT = OpenAICompletions()
