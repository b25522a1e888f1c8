"""Anthropic Messages (``POST /v1/messages``): request checks, the typed event
stream, the message object, the error shape.

Every frame is ``event: TYPE`` + ``data: {"type": TYPE, ...}`` (the SDKs skip a
data line without its event line). A reply reads

    message_start  ping  content_block_start  content_block_delta…  content_block_stop
    (content_block_start tool_use  content_block_delta input_json_delta…  content_block_stop)…
    message_delta (stop_reason, usage.output_tokens)  message_stop

Blocks are numbered in order, text first. Only ``message_start`` is the
response's own (its id, the request's model and input tokens): ``Encoder.frame``
makes it; every other body is the same in every response.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .. import events, sse, tokens
from ..errors import RequestError
from . import conversation, reading
from .base import Ask, Call, Dialect, Example, Headers, Listing, Message, Response, Route
from .openai_chat import alnum

if TYPE_CHECKING:
    from ..quota import Budget
    from ..scenario import Scenario

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PRETTY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

FINISH_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
ROLES = ("user", "assistant")

# The API's error types, and the type each status has when an error names none of them.
ERROR_TYPES = (
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
)
_STATUS_TYPES = {
    400: "invalid_request_error", 405: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    529: "overloaded_error",
}
_STATUS_MESSAGES = {
    400: "Invalid request (simulated by mockllm).",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The requested resource could not be found.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit. Please try again later.",
    500: "Internal server error",
    529: "Overloaded",
}
RATE_LIMIT_HEADERS = {
    "retry-after": "1",
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "0",
    "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z",
    "anthropic-ratelimit-tokens-limit": "40000",
    "anthropic-ratelimit-tokens-remaining": "39990",
    "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:01Z",
}
STREAM_ERROR = ("overloaded_error", "Overloaded")  # what the API sends mid-stream
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


# -- requests --------------------------------------------------------------

def parse(body: object) -> Ask:
    """Validate a Messages request as the API does, in its words (``field: problem``)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    model = _string(body, "model", required=True)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _invalid("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _invalid("max_tokens: Input should be a valid integer greater than or equal to 1")
    messages = body.get("messages")
    if messages is None:
        raise _invalid("messages: Field required")
    if not isinstance(messages, list):
        raise _invalid("messages: Input should be a valid list")
    if not messages:
        raise _invalid("messages: at least one message is required")
    texts = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _invalid(f"messages.{i}: Input should be a valid dictionary")
        if message.get("role") not in ROLES:
            raise _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise _invalid(f"messages.{i}.content: Field required")
        texts.append(_text_of(message["content"], f"messages.{i}.content"))
    system = body.get("system")
    if system is not None:
        _text_of(system, "system")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("stream: Input should be a valid boolean")
    _tools(body.get("tools"))
    if (lost := _thread_not_found(body.get("thread"))) is not None:
        raise lost
    said = _conversation(system, messages)
    return Ask(
        model=model,
        prompt=conversation.last_user_text(said),
        stream=stream,
        include_usage=True,  # the API always reports usage
        prompt_tokens=sum(len(tokens.words(t)) for t in texts) + 3 * len(messages),
        messages=said,
        tools=conversation.tool_names(body.get("tools")),
        metadata=conversation.metadata(body.get("metadata")),  # user_id
    )


# The message-threads beta keeps a conversation on the server: a request that
# continues a thread carries only its newest messages. mockllm keeps no thread,
# so it answers a continuation as the API answers one whose thread is gone, and
# the SDKs send the whole conversation again under a new thread (``create``,
# answered as any request), which is what turns are read from.
def _thread_not_found(thread: object) -> RequestError | None:
    if not isinstance(thread, dict) or thread.get("type") != "continue":
        return None
    message = thread.get("previous_message_id")
    return RequestError(
        404, f"This server keeps no message threads, so none continues from message {message!r}. "
        'Send the whole conversation again, under a new thread (thread: {"type": "create"}) or none.',
        code="thread_not_found",
    )


def _conversation(system: object, messages: list[dict[str, object]]) -> tuple[Message, ...]:
    """The messages: ``tool_use`` blocks are an assistant message's calls, and
    each ``tool_result`` block of a user message is a tool message of its own."""
    out = [Message("system", _plain_text(system))] if system else []
    for message in messages:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(conversation.dicts(content))
        text = "".join(conversation.string(b.get("text")) for b in blocks if b.get("type") == "text")
        if message["role"] == "assistant":
            calls = [b for b in blocks if b.get("type") == "tool_use"]
            out.append(Message(
                "assistant", text, calls=tuple(conversation.string(b.get("name")) for b in calls),
                call_ids=tuple(conversation.string(b.get("id")) for b in calls),
            ))
            continue
        out += [
            Message("tool", _plain_text(b.get("content")), call_id=conversation.string(b.get("tool_use_id")))
            for b in blocks if b.get("type") == "tool_result"
        ]
        if text or not any(b.get("type") == "tool_result" for b in blocks):
            out.append(Message("user", text))
    return conversation.named_results(out)


def _plain_text(content: object) -> str:
    """A string, or the text of a list of blocks (the system prompt, a tool's result)."""
    if isinstance(content, str):
        return content
    return "".join(conversation.string(b.get("text")) for b in conversation.dicts(content) if b.get("type") == "text")


def _invalid(message: str) -> RequestError:
    return RequestError(400, message, type="invalid_request_error")


def _string(body: Mapping[str, object], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None and required:
        raise _invalid(f"{name}: Field required")
    if not isinstance(value, str):
        raise _invalid(f"{name}: Input should be a valid string")
    return value


def _text_of(content: object, at: str) -> str:
    """A string, or a list of blocks each with a ``type``; the text blocks' text."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _invalid(f"{at}: Input should be a valid string or a valid list")
    out = []
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _invalid(f"{at}.{j}: Input should be an object with a 'type'")
        if block["type"] == "text":
            if not isinstance(block.get("text"), str):
                raise _invalid(f"{at}.{j}.text: Input should be a valid string")
            out.append(block["text"])
    return "".join(out)


def _tools(tools: object) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _invalid("tools: Input should be a valid list")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise _invalid(f"tools.{i}.name: Field required")


# -- errors ----------------------------------------------------------------

def _status_type(status: int) -> str:
    return _STATUS_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


# -- the stream ------------------------------------------------------------

def _frame(kind: str, data: dict[str, object]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + _DUMPS({"type": kind, **data}).encode("utf-8") + b"\n\n"


@functools.lru_cache(maxsize=16384)
def _text_body(index: int, text: str) -> bytes:
    return _frame("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": text}})


def _arguments_body(index: int, partial: str) -> bytes:
    return _frame("content_block_delta", {"index": index, "delta": {"type": "input_json_delta", "partial_json": partial}})


def _stop_body(index: int) -> bytes:
    return _frame("content_block_stop", {"index": index})


def error_frame(event: events.Error) -> bytes:
    kind, message = STREAM_ERROR
    return _frame("error", {"error": {"type": event.type or kind, "message": event.message or message}})


def bodies(stream: Sequence[events.Event]) -> list[bytes]:
    """Each event's frame, blocks numbered in order (text first); the output
    tokens of ``message_delta`` are the stream's content (or its usage event's)."""
    usage = next((e for e in stream if isinstance(e, events.Usage)), None)
    output = usage.completion_tokens if usage is not None else sum(
        isinstance(e, (events.Text, events.ToolCallStart, events.ToolCallArguments)) for e in stream)
    blocks = 0
    text_block = -1
    tool_blocks: dict[int, int] = {}
    out: list[bytes] = []
    for event in stream:
        match event:
            case events.Text(text):
                if text_block < 0:  # text without its block opening (a steps scenario): open one here
                    text_block, blocks = blocks, blocks + 1
                out.append(_text_body(text_block, text))
            case events.TextStart():
                text_block, blocks = blocks, blocks + 1
                out.append(_frame("content_block_start", {"index": text_block,
                                                          "content_block": {"type": "text", "text": ""}}))
            case events.TextEnd():
                out.append(_stop_body(text_block))
            case events.ToolCallStart(index, call_id, name):
                tool_blocks[index], blocks = blocks, blocks + 1
                block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
                out.append(_frame("content_block_start", {"index": tool_blocks[index], "content_block": block}))
            case events.ToolCallArguments(index, arguments):
                out.append(_arguments_body(tool_blocks.setdefault(index, index), arguments))
            case events.ToolCallEnd(index):
                out.append(_stop_body(tool_blocks.get(index, index)))
            case events.Start():
                out.append(b"message_start")  # the response's own: Encoder.frame makes it
            case events.Finish(reason):
                delta = {"stop_reason": FINISH_REASONS.get(reason, reason), "stop_sequence": None}
                out.append(_frame("message_delta", {"delta": delta, "usage": {"output_tokens": output}}))
            case events.Usage():
                out.append(b"")  # in message_start and message_delta
            case events.Done():
                out.append(_frame("message_stop", {}))
            case events.Error():
                out.append(error_frame(event))
            case events.Comment(text):
                out.append(sse.comment(text))
            case events.Raw(data):
                out.append(data)
    return out


def understand(frame: bytes) -> events.Event | None:
    return reading.sse_understood(frame, _said)


def _said(value: dict[str, object]) -> events.Event | None:
    """What a typed event says; a block's ``index`` is its place in the message, not among the calls."""
    kind = value.get("type")
    index = reading.integer(value.get("index"))
    if kind == "content_block_delta":
        delta = reading.obj(value.get("delta"))
        if delta.get("type") == "text_delta" and (text := reading.string(delta.get("text"))):
            return events.Text(text)
        if delta.get("type") == "input_json_delta" and (partial := reading.string(delta.get("partial_json"))):
            return events.ToolCallArguments(index, partial)
        return None
    if kind == "content_block_start":
        block = reading.obj(value.get("content_block"))
        if block.get("type") == "tool_use":
            return events.ToolCallStart(index, reading.string(block.get("id")), reading.string(block.get("name")))
        return None
    if kind == "message_delta":
        if reason := reading.string(reading.obj(value.get("delta")).get("stop_reason")):
            return events.Finish(reason)
        usage = value.get("usage")
        return events.Usage(0, reading.integer(usage.get("output_tokens"))) if isinstance(usage, dict) else None
    if kind == "message_stop":
        return events.Done()
    if kind == "message_start":
        return events.Start()
    return reading.error_in(value) if kind == "error" else None


class Encoder:
    """Makes ``message_start`` for the response; every other frame is its body."""

    def __init__(self, ask: Ask, message_id: str) -> None:
        self.ask = ask
        self.message_id = message_id
        message: dict[str, object] = {"id": message_id, "type": "message", "role": "assistant", "model": ask.model, "content": [],
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": ask.prompt_tokens, "output_tokens": 1}}
        self._start = _frame("message_start", {"message": message}) + PING

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        return self._start if event.__class__ is events.Start else body

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return self.frame(index, bodies([event])[0], event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        """The ``message`` object for a request without ``stream``."""
        folded = events.fold(stream)
        content: list[dict[str, object]] = []
        if folded.has_text and (folded.text or not folded.tool_calls):
            content.append({"type": "text", "text": folded.text})
        for call in folded.tool_calls:
            content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)})
        usage = folded.usage or events.Usage(self.ask.prompt_tokens, 0)
        body = {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.ask.model,
            "content": content, "stop_reason": FINISH_REASONS.get(folded.finish or "stop", folded.finish),
            "stop_sequence": None,
            "usage": {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens},
        }
        return _PRETTY(body).encode("utf-8")


def _input(arguments: str) -> object:
    """A call's arguments as the object ``tool_use.input`` is; ``{}`` if they are not one."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- listings --------------------------------------------------------------

def rfc3339(unix: float) -> str:
    """A Unix time as the API writes a reset, to the second rounded up: ``2026-01-01T00:00:01Z``."""
    return datetime.datetime.fromtimestamp(math.ceil(unix), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_list(scenarios: Sequence[Scenario]) -> dict[str, object]:
    """``GET /v1/models`` as Anthropic pages it: every scenario on one page."""
    return {
        "data": [
            {"type": "model", "id": s.name, "display_name": s.name, "created_at": RELEASED} for s in scenarios
        ],
        "has_more": False,
        "first_id": scenarios[0].name if scenarios else None,
        "last_id": scenarios[-1].name if scenarios else None,
    }


RELEASED = "2026-01-01T00:00:00Z"  # a model's created_at: fixed, so listings compare equal


# -- the dialect -------------------------------------------------------------

class Anthropic(Dialect):
    name = "anthropic"
    title = "Anthropic Messages"
    routes = (Route("POST", "/v1/messages"),)
    listings = (Listing("/v1/models", model_list, header="anthropic-version"),)
    allow_headers = ("x-api-key", "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access")
    expose_headers = ("request-id", "retry-after", *(n for n in RATE_LIMIT_HEADERS if n.startswith("anthropic-")))
    request_id_header = "request-id"
    finish_reasons = FINISH_REASONS

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body)

    def call_id(self, rng: random.Random) -> str:
        return "toolu_01" + alnum(rng, 22)

    def encoder(self, response: Response) -> Encoder:
        return Encoder(response.ask, "msg_01" + alnum(response.rng, 22))

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return (
            ("Content-Type", "text/event-stream; charset=utf-8" if streaming else "application/json"),
            ("Cache-Control", "no-cache"),
            ("request-id", "req_011" + alnum(rng, 21)),
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:01Z"),
        )

    def rate_limit_headers(self, budget: Budget, now: float) -> Headers:
        """``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}``
        for the limits the quota sets; a reset is when the bucket is full again."""
        headers: list[tuple[str, str]] = []
        for kind, allowance in (("requests", budget.requests), ("tokens", budget.tokens)):
            if allowance is not None:
                headers += [
                    (f"anthropic-ratelimit-{kind}-limit", str(allowance.limit)),
                    (f"anthropic-ratelimit-{kind}-remaining", str(allowance.remaining)),
                    (f"anthropic-ratelimit-{kind}-reset", rfc3339(now + allowance.reset)),
                ]
        return tuple(headers)

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return bodies(stream)

    def understand(self, frame: bytes) -> events.Event | None:
        return understand(frame)

    def error_body(self, error: RequestError) -> bytes:
        """``{"type":"error","error":{"type","message"},"request_id"}``; an error raised
        in OpenAI's terms (the router's 404) takes the type of its status."""
        # ``invalid_request_error`` is every refusal's default type: the status says more (a 404, a 413).
        named = error.type in ERROR_TYPES and error.type != "invalid_request_error"
        kind = error.type if named else _status_type(error.status)
        # The response's own id where it has one (the header says the same); for
        # a refusal, which has none, one drawn without a generator: the message's digest.
        digest = hashlib.sha1(error.message.encode("utf-8", "surrogatepass")).hexdigest()[:21]
        request_id = error.request_id or "req_011" + digest
        said: dict[str, object] = {"type": kind, "message": error.message}
        if error.code:  # the SDKs pick an error's class by its status and ``details.error_code``
            said["details"] = {"error_code": error.code}
        body = {"type": "error", "error": said, "request_id": request_id}
        return _DUMPS(body).encode("utf-8", "backslashreplace")

    def status_error(self, status: int) -> RequestError:
        message = _STATUS_MESSAGES.get(status, f"Error {status}.")
        return RequestError(status, message, type=_status_type(status),
                            headers=RATE_LIMIT_HEADERS if status == 429 else None)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = self.routes[0]
        return Example(route.path, Call(route), {
            "model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}], "stream": stream,
        })


DIALECT = Anthropic()
