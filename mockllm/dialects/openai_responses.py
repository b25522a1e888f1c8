"""The OpenAI Responses API (``POST /v1/responses``): request parsing, typed events.

Every frame is ``event: TYPE`` and ``data: {"type":TYPE,"sequence_number":N,…}``
(shared/wire-format.md §4, docs/sdk-parsers.md §2). A reply's events become

    Start          response.created, response.in_progress
    TextStart      response.output_item.added (message msg_…), response.content_part.added
    Text           response.output_text.delta                        (one frame per token)
    TextEnd        response.output_text.done, response.content_part.done, response.output_item.done
    ToolCallStart  response.output_item.added (function_call fc_…, call_id call_…)
    ToolCall…      response.function_call_arguments.delta            (one frame per fragment)
    ToolCallEnd    response.function_call_arguments.done, response.output_item.done
    Finish         the closing frames of the last item (see below)
    Usage          nothing: its counts are in the final event
    Done           response.completed, or response.incomplete (length, content_filter)
    Error          error (nested, as captured), then response.failed

The API has no ``[DONE]`` and no finish chunk: the final event says how the
reply ended. So ``Done`` is that final event (``no_done``: no
``response.completed``, the body just ends), and ``Finish`` carries the
closing frames of the last output item, which the API sends right before it
(``no_finish``: the last item is never closed, though ``response.completed``
still lists it whole). On a clean stream the bytes are the same either way.

The bodies (``Dialect.bodies``) are shared by every response. Text and argument
deltas, most of any stream, are framed with a join; the few structural frames
are kept as JSON specs, rendered once per request shape into skeletons that
``Encoder.frame`` fills with the response's own ids, times and sequence
numbers. A structural beat holds several frames, so a beat's
first sequence number is its index plus the extra frames of the beats before
it, which the encoder counts as it frames them.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from .. import events, sse, tokens
from ..errors import RequestError
from . import conversation, fields, openai_chat, reading
from .base import Ask, Call, Example, Message, Response, Route

# A JSON object this module builds (specs, items, the response object).
Json = dict[str, Any]
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_RESPONSE = "response"  # the one ``Ask.echo`` key: the request fields the response object repeats


# -- requests ----------------------------------------------------------------

ROLES = ("user", "assistant", "system", "developer")
TOOL_CHOICES = ("none", "auto", "required")
TRUNCATIONS = ("auto", "disabled")
MIN_OUTPUT_TOKENS = 16  # the API's floor for max_output_tokens
MAX_TOP_LOGPROBS = 20
INPUT_TEXT_PARTS = ("input_text", "output_text", "text")
# Request fields the response object echoes, with what it says when the request left them out.
ECHOED: dict[str, object] = {
    "instructions": None, "max_output_tokens": None, "max_tool_calls": None, "parallel_tool_calls": True,
    "previous_response_id": None, "prompt_cache_key": None, "reasoning": {"effort": None, "summary": None},
    "safety_identifier": None, "service_tier": "auto", "store": True, "temperature": 1,
    "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
    "top_logprobs": 0, "top_p": 1, "truncation": "disabled", "user": None, "metadata": {},
}


def parse(body: object) -> Ask:
    """Validate a decoded request body as the API does, in its words and error shape."""
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.", code="invalid_type")
    model = fields.string(body, "model", required=True)
    instructions = fields.string(body, "instructions")
    texts, prompt = _input(body)
    fields.integer(body, "max_output_tokens", minimum=MIN_OUTPUT_TOKENS)
    fields.integer(body, "max_tool_calls", minimum=1)
    fields.decimal(body, "temperature", minimum=0, maximum=2)
    fields.decimal(body, "top_p", minimum=0, maximum=1)
    fields.integer(body, "top_logprobs", minimum=0, maximum=MAX_TOP_LOGPROBS)
    fields.boolean(body, "parallel_tool_calls")
    fields.boolean(body, "store")
    fields.boolean(body, "background")
    fields.string(body, "previous_response_id")
    fields.string(body, "user")
    fields.obj(body, "metadata")
    fields.obj(body, "text")
    fields.obj(body, "reasoning")
    truncation = fields.string(body, "truncation")
    if truncation is not None and truncation not in TRUNCATIONS:
        raise fields.invalid_value("truncation", truncation, TRUNCATIONS)
    _tools(body)
    stream = bool(fields.boolean(body, "stream"))
    options = fields.obj(body, "stream_options") or {}
    if options and not stream:
        raise RequestError(
            400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options", code="invalid_value",
        )
    obfuscation = fields.boolean(options, "include_obfuscation", prefix="stream_options.", default=True)
    echoed = {key: body[key] for key in ECHOED if body.get(key) is not None}
    counted = texts + ([instructions] if instructions else [])
    return Ask(
        model=model,
        prompt=prompt,
        stream=stream,
        include_obfuscation=bool(obfuscation),
        prompt_tokens=sum(len(tokens.words(t)) for t in counted) + 3 * max(1, len(texts)),
        echo=((_RESPONSE, _DUMPS(echoed)),),
        messages=_conversation(body, instructions),
        tools=conversation.tool_names(body.get("tools")),
        metadata=conversation.metadata(body.get("metadata"), body.get("user")),
    )


def _conversation(body: dict[str, object], instructions: str | None) -> tuple[Message, ...]:
    """The input as messages: a model turn's items (its message, reasoning,
    function calls, and ``item_reference``s to them) become one assistant message."""
    value = body.get("input")
    items: Iterable[dict[str, object]] = (
        [{"role": "user", "content": value}] if isinstance(value, str) else conversation.dicts(value)
    )
    said = [Message("system", instructions)] if instructions else []
    said += [_message(item) for item in items]
    return conversation.named_results(conversation.model_turns(said))


def _message(item: dict[str, object]) -> Message:
    """One input item; any item but a function's output or a user's, system's or
    developer's message is part of a model turn."""
    kind = conversation.string(item.get("type")) or "message"
    role = conversation.string(item.get("role"))
    if kind == "function_call_output":
        return Message("tool", _output_text(item.get("output")), call_id=conversation.string(item.get("call_id")))
    if kind == "message":
        return Message(_ROLE_OF.get(role, role), _text_of(item.get("content")))
    if kind == "function_call":
        return Message("assistant", calls=(conversation.string(item.get("name")),),
                       call_ids=(conversation.string(item.get("call_id")),))
    return Message("assistant")


_ROLE_OF = {"developer": "system"}


def _text_of(content: object) -> str:
    """A message's text: a string, or its parts' ``text`` (input_text, output_text)."""
    if isinstance(content, str):
        return content
    return "".join(conversation.string(part.get("text")) for part in conversation.dicts(content))


def _output_text(output: object) -> str:
    return output if isinstance(output, str) else _text_of(output)


def _input(body: dict[str, object]) -> tuple[list[str], str]:
    """The input's texts and the last user text (the ``match`` prompt)."""
    value = body.get("input")
    if value is None:
        return [], ""
    if isinstance(value, str):
        return [value], value
    if not isinstance(value, list):
        raise fields.type_error("input", "one of a string or array of input items", value)
    texts: list[str] = []
    prompt = ""
    for i, item in enumerate(value):
        at = f"input[{i}]"
        if not isinstance(item, dict):
            raise fields.type_error(at, "an object", item)
        kind = fields.string(item, "type", prefix=at + ".", default="message")
        if kind != "message":
            continue  # function_call, function_call_output, reasoning…: no user text
        role = fields.string(item, "role", prefix=at + ".", required=True)
        if role not in ROLES:
            raise fields.invalid_value(at + ".role", role, ROLES)
        text = _content_text(item, at)
        texts.append(text)
        if role == "user":
            prompt = text
    return texts, prompt


def _content_text(item: dict[str, object], at: str) -> str:
    content = fields.required(item, "content", prefix=at + ".")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise fields.type_error(at + ".content", "one of a string or array of input content", content)
    parts: list[str] = []
    for j, part in enumerate(content):
        where = f"{at}.content[{j}]"
        if not isinstance(part, dict):
            raise fields.type_error(where, "an object", part)
        if fields.string(part, "type", prefix=where + ".", required=True) in INPUT_TEXT_PARTS:
            parts.append(fields.string(part, "text", prefix=where + ".", required=True))
    return "".join(parts)


def _tools(body: dict[str, object]) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise fields.type_error("tools", "an array of objects", tools)
        for i, tool in enumerate(tools):
            at = f"tools[{i}]"
            if not isinstance(tool, dict):
                raise fields.type_error(at, "an object", tool)
            if fields.string(tool, "type", prefix=at + ".", required=True) == "function":
                # Flat, unlike Chat Completions: no nested "function" object.
                fields.string(tool, "name", prefix=at + ".", required=True)
                fields.obj(tool, "parameters", prefix=at + ".")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise fields.invalid_value("tool_choice", choice, TOOL_CHOICES)
    elif isinstance(choice, dict):
        if fields.string(choice, "type", prefix="tool_choice.", required=True) == "function":
            fields.string(choice, "name", prefix="tool_choice.", required=True)
    else:
        raise fields.type_error("tool_choice", "one of a string or object", choice)


# -- bodies: the same in every response --------------------------------------

_ITEM = re.compile(rb"(?<!\\)\\u0000([mf])(\d+)")  # an item id to fill in: "\x00m0" is the message at output 0


def _msg(output_index: int) -> str:
    return f"\x00m{output_index}"


def _fc(output_index: int) -> str:
    return f"\x00f{output_index}"


def _part(text: str) -> Json:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def message_item(output_index: int, text: str | None) -> Json:
    """A message item: in progress and empty (``None``), or completed with its text."""
    status, content = ("in_progress", []) if text is None else ("completed", [_part(text)])
    return {"id": _msg(output_index), "type": "message", "status": status, "content": content, "role": "assistant"}


def call_item(output_index: int, call_id: str, name: str, arguments: str | None) -> Json:
    """A function_call item: in progress (``None``), or completed with its arguments."""
    status = "in_progress" if arguments is None else "completed"
    return {"id": _fc(output_index), "type": "function_call", "status": status, "arguments": arguments or "",
            "call_id": call_id, "name": name}


@functools.lru_cache(maxsize=openai_chat.TOKEN_CACHE)
def _text_body(output_index: int, text: str) -> bytes:
    return b',"output_index":%d,"content_index":0,"delta":%s,"logprobs":[]' % (
        output_index, _DUMPS(text).encode("utf-8"))


@functools.lru_cache(maxsize=openai_chat.TOKEN_CACHE)
def _arguments_body(output_index: int, arguments: str) -> bytes:
    return b',"output_index":%d,"delta":%s' % (output_index, _DUMPS(arguments).encode("utf-8"))


def _specs(*frames: Json) -> bytes:
    return _DUMPS(list(frames)).encode("utf-8")


def _text_closes(output_index: int, text: str) -> list[Json]:
    where = {"item_id": _msg(output_index), "output_index": output_index, "content_index": 0}
    return [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": _part(text)},
        {"type": "response.output_item.done", "output_index": output_index, "item": message_item(output_index, text)},
    ]


def _call_closes(output_index: int, item: Json) -> list[Json]:
    return [
        {"type": "response.function_call_arguments.done", "item_id": _fc(output_index),
         "output_index": output_index, "arguments": item["arguments"]},
        {"type": "response.output_item.done", "output_index": output_index, "item": item},
    ]


FINISH_REASONS = {"stop": "completed", "tool_calls": "completed", "length": "incomplete",
                  "content_filter": "incomplete"}
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def ending(reason: str | None) -> tuple[str, Json | None]:
    """The response's status and ``incomplete_details`` for a finish reason."""
    reason = reason or "stop"
    status = FINISH_REASONS.get(reason, "completed")
    return status, ({"reason": INCOMPLETE_REASONS[reason]} if status == "incomplete" else None)


def usage_object(input_tokens: int | None, output_tokens: int) -> Json:
    """``input_tokens`` None: the encoder fills in the request's count."""
    return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": None}


class _Walk:
    """What ``event_bodies`` knows as it walks a stream: the bodies so far, the
    output items, and the closing frames that wait to see whether a Finish
    comes next (then they travel with it; else with the block end they close)."""

    def __init__(self, usage: events.Usage | None) -> None:
        self.out: list[bytes] = []
        self.output: list[Json] = []  # completed items, in output order
        self.text_index: int | None = None  # the open message's output index
        self.texts: list[str] = []
        self.calls: dict[int, tuple[int, Json]] = {}  # call index -> output index, the item being built
        self.tokens = 0
        self.usage = usage
        self.finish: str | None = None
        self.closes: list[Json] = []
        self.close_at = -1

    def next_index(self) -> int:
        return len(self.output) + (self.text_index is not None) + len(self.calls)

    def settle(self) -> None:
        """The waiting closing frames go with the block end they close."""
        if self.closes:
            self.out[self.close_at] = _specs(*self.closes)
            self.closes = []

    def close(self, frames: list[Json]) -> None:
        self.out.append(b"")
        self.closes += frames
        self.close_at = len(self.out) - 1

    def texts_of(self, run: Iterable[events.Event]) -> None:
        if self.text_index is None:
            self.text_index = self.next_index()  # text outside a block (steps): its own item
        texts = list(map(_event_text, run))
        self.texts += texts
        self.tokens += len(texts)
        self.out += map(_text_body, itertools.repeat(self.text_index), texts)

    def event(self, event: events.Event) -> None:
        if not isinstance(event, (events.TextEnd, events.ToolCallEnd, events.Finish)):
            self.settle()
        out = self.out
        match event:
            case events.ToolCallArguments(index, arguments) if index in self.calls:
                output_index, item = self.calls[index]
                item["arguments"] += arguments
                self.tokens += 1
                out.append(_arguments_body(output_index, arguments))
            case events.Start():
                out.append(_specs({"type": "response.created", _RESPONSE: {"status": "in_progress"}},
                                  {"type": "response.in_progress", _RESPONSE: {"status": "in_progress"}}))
            case events.TextStart():
                index = self.text_index = self.next_index()
                out.append(_specs(
                    {"type": "response.output_item.added", "output_index": index, "item": message_item(index, None)},
                    {"type": "response.content_part.added", "item_id": _msg(index), "output_index": index,
                     "content_index": 0, "part": _part("")},
                ))
            case events.TextEnd() if self.text_index is not None:
                text = "".join(self.texts)
                self.close(_text_closes(self.text_index, text))
                self.output.append(message_item(self.text_index, text))
                self.text_index, self.texts = None, []
            case events.ToolCallStart(index, call_id, name):
                output_index = self.next_index()
                self.calls[index] = (output_index, call_item(output_index, call_id, name, ""))
                self.tokens += 1
                out.append(_specs({"type": "response.output_item.added", "output_index": output_index,
                                   "item": call_item(output_index, call_id, name, None)}))
            case events.ToolCallEnd(index) if index in self.calls:
                output_index, item = self.calls.pop(index)
                item["status"] = "completed"
                self.close(_call_closes(output_index, item))
                self.output.append(item)
            case events.Finish(reason):
                self.finish = reason
                out.append(_specs(*self.closes) if self.closes else b"")
                self.closes = []
            case events.Done():
                status, incomplete = ending(self.finish)
                usage = self.usage
                counts = usage_object(usage.prompt_tokens if usage else None,
                                      usage.completion_tokens if usage else self.tokens)
                out.append(_specs({"type": f"response.{status}", _RESPONSE: {
                    "status": status, "incomplete_details": incomplete, "output": self.output, "usage": counts}}))
            case events.Error(message, type_, code):
                out.append(_specs(*error_frames(message, type_, code)))
            case events.Comment(text):
                out.append(sse.comment(text))
            case events.Raw(data):
                out.append(data)
            case _:
                out.append(b"")  # Usage, and block ends of blocks never opened


def event_bodies(stream: Sequence[events.Event]) -> list[bytes]:
    """One body per event: b"" for events with no frame of their own."""
    walk = _Walk(next((e for e in stream if isinstance(e, events.Usage)), None))
    for kind, run in itertools.groupby(stream, type):
        if kind is events.Text:  # most of any stream: a run without a Python step per token
            walk.settle()
            walk.texts_of(run)
        else:
            for event in run:
                walk.event(event)
    walk.settle()
    return walk.out


_event_text = operator.attrgetter("text")


def error_frames(message: str | None, type_: str | None, code: str | None) -> list[Json]:
    """The in-stream error as the API sends a server error: an ``error`` event
    with the error nested (openai-python raises ``APIError`` on it), then
    ``response.failed``. Deliberate: the status was already 200."""
    kind = type_ or "server_error"
    code = code if code is not None or type_ is not None else "server_error"
    text = STREAM_ERROR_MESSAGE if message is None else message
    return [
        {"type": "error", "error": {"type": kind, "code": code, "message": text, "param": None}},
        {"type": "response.failed", _RESPONSE: {"status": "failed", "error": {"code": code or kind, "message": text}}},
    ]


STREAM_ERROR_MESSAGE = (
    "An error occurred while processing your request. You can retry your request, or contact us through our "
    "help center at help.openai.com if the error persists."
)


def understand(frame: bytes) -> events.Event | None:
    return reading.sse_understood(frame, _said)


# The events that end a response: each says how (``Done``, as mockllm sends them).
FINAL = ("response.completed", "response.incomplete", "response.failed")


def _said(value: dict[str, object]) -> events.Event | None:
    """What a typed event says, by its ``type`` (the ``event:`` line only repeats it)."""
    kind = value.get("type")
    index = reading.integer(value.get("output_index"))
    if kind == "response.output_text.delta":
        return events.Text(text) if (text := reading.string(value.get("delta"))) else None
    if kind == "response.function_call_arguments.delta":
        return events.ToolCallArguments(index, text) if (text := reading.string(value.get("delta"))) else None
    if kind == "response.output_item.added":
        item = reading.obj(value.get("item"))
        if item.get("type") == "function_call":
            return events.ToolCallStart(index, reading.string(item.get("call_id")), reading.string(item.get("name")))
        return None
    if kind in FINAL:
        return events.Done()
    if kind == "response.created":
        return events.Start()
    if kind == "error":  # nested, as the API sends it, or flat, as the SDK's type declares it
        return reading.error_in(value) or events.Error(reading.string(value.get("message")) or None,
                                                       code=reading.string(value.get("code")) or None)
    return reading.error_in(value)


# -- the encoder: what is each response's own -------------------------------

_TEXT_HEAD = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'
_ARGS_HEAD = (b'event: response.function_call_arguments.delta\n'
              b'data: {"type":"response.function_call_arguments.delta","sequence_number":')
_INDEX_AT = len(b',"output_index":')
_AT_ZERO = b',"output_index":0,'


# Structural frames are rendered once per body and request shape, not once per
# response: JSON-dumping them in every response (the response object alone has
# some thirty fields) cost more than all of a reply's deltas, and put a
# Responses stream at up to 1.2x a Chat Completions one in CPU (issue 11). A
# skeleton is the frames' bytes cut where a response's own values go: ints are
# sequence numbers (that many frames after the beat's first), strings name an
# id, a time or a token count (``Encoder._value``).
Piece = bytes | int | str
_RID, _CREATED, _INPUT = "r", "c", "i"  # the response id; created_at (and completed_at); its input tokens
ENDED = ("completed", "incomplete")  # the statuses with a completed_at


def _total(output_tokens: int) -> str:
    return f"t{output_tokens}"  # the slot of total_tokens: the input tokens and these


class Shape(NamedTuple):
    """What the request sets in the response object, besides its input tokens."""

    model: str
    echo: str  # the echoed request fields, as JSON


class Skeleton(NamedTuple):
    frames: int
    pieces: tuple[Piece, ...]


@functools.lru_cache(maxsize=1024)
def _body_skeleton(body: bytes, shape: Shape) -> Skeleton:
    """A structural body's skeleton, shared by every response of that shape."""
    return skeleton(json.loads(body), shape)


def skeleton(specs: list[Json], shape: Shape) -> Skeleton:
    """Frames as ``event: TYPE`` and ``data: {"type":TYPE,"sequence_number":N,…spec}``,
    the ``response`` value expanded to the whole response object."""
    pieces: list[Piece] = []
    for offset, spec in enumerate(specs):
        type_ = _json(spec["type"])
        members: list[tuple[str, list[Piece]]] = [("type", [type_]), ("sequence_number", [offset])]
        members += [(key, _response_pieces(value, shape) if key == _RESPONSE else _with_ids(_json(value)))
                    for key, value in spec.items() if key != "type"]
        pieces += [b"event: %s\ndata: " % type_[1:-1], *_object(members), b"\n\n"]
    return Skeleton(len(specs), _merged(pieces))


def _response_pieces(state: Json, shape: Shape) -> list[Piece]:
    """The response object (``Encoder.response``) in ``state``: its id, times and
    input tokens are each response's own."""
    state = dict(state)
    status = state.pop("status")
    members: list[tuple[str, list[Piece]]] = [
        ("id", [b'"', _RID, b'"']), ("object", [b'"response"']), ("created_at", [_CREATED]),
        ("status", [_json(status)]), ("background", [b"false"]),
        ("completed_at", [_CREATED if status in ENDED else b"null"])]
    for key, value in _state(_fields(shape), **state).items():
        members.append((key, _usage_pieces(value) if key == "usage" and value else _with_ids(_json(value))))
    return _object(members)


def _usage_pieces(usage: Json) -> list[Piece]:
    """The usage object; input tokens not given are the request's, and so is the total then."""
    if usage["input_tokens"] is not None:
        return [_json(_counted(usage, usage["input_tokens"]))]
    slots = {"input_tokens": _INPUT, "total_tokens": _total(usage["output_tokens"])}
    return _object([(key, [slots[key]] if key in slots else [_json(value)]) for key, value in usage.items()])


def _object(members: Iterable[tuple[str, list[Piece]]]) -> list[Piece]:
    """A JSON object from its members' keys and their values' pieces."""
    pieces: list[Piece] = [b"{"]
    for key, value in members:
        pieces += [b"," if len(pieces) > 1 else b"", _json(key) + b":", *value]
    return [*pieces, b"}"]


def _with_ids(data: bytes) -> list[Piece]:
    """JSON bytes with each item id marker (``_ITEM``) cut out as its slot, ``m0`` or ``f1``."""
    parts = _ITEM.split(data)  # text, kind, output index, text, …
    pieces: list[Piece] = [parts[0]]
    for at in range(1, len(parts), 3):
        pieces += [(parts[at] + parts[at + 1]).decode(), parts[at + 2]]
    return pieces


def _merged(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Runs of bytes joined and empty bytes dropped: the fewer pieces, the cheaper each fill."""
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += piece
        elif piece != b"":
            out.append(piece)
    return tuple(out)


def _json(value: object) -> bytes:
    return _DUMPS(value).encode("utf-8")


@functools.lru_cache(maxsize=256)
def _fields(shape: Shape) -> Json:
    """The response object's fields after its id, status and times, as the
    request set them; shared, so never changed."""
    echoed = json.loads(shape.echo)
    return {
        "error": None, "frequency_penalty": 0, "incomplete_details": None,
        **{k: echoed.get(k, ECHOED[k]) for k in ("instructions", "max_output_tokens", "max_tool_calls")},
        "model": shape.model, "output": [], "parallel_tool_calls": echoed.get("parallel_tool_calls", True),
        "presence_penalty": 0,
        **{k: echoed.get(k, ECHOED[k]) for k in ("previous_response_id", "prompt_cache_key")},
        "prompt_cache_retention": "in_memory",
        **{k: echoed.get(k, ECHOED[k]) for k in ("reasoning", "safety_identifier", "service_tier", "store",
                                                 "temperature", "text", "tool_choice", "tools", "top_logprobs",
                                                 "top_p", "truncation")},
        "usage": None, "user": echoed.get("user"), "metadata": echoed.get("metadata", {}),
    }


def _state(fields: Json, output: list[Json] | None = None, usage: Json | None = None,
           incomplete_details: Json | None = None, error: Json | None = None) -> Json:
    """``fields`` with a state's values (``usage`` as ``usage_object`` made it)."""
    body = dict(fields)
    body["output"] = output or []
    body["error"] = error
    body["incomplete_details"] = incomplete_details
    body["usage"] = usage
    return body


def _counted(usage: Json, input_tokens: int) -> Json:
    """``usage`` with its input tokens, if it has none yet, and its total."""
    usage = dict(usage)
    if usage["input_tokens"] is None:
        usage["input_tokens"] = input_tokens
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage


def _padding_table(count: int) -> tuple[bytes, ...]:
    """Obfuscation paddings (0 to 15 letters and digits), made once per process
    from a fixed seed; a response takes them in turn from a drawn position."""
    rng = random.Random("mockllm responses obfuscation")
    return tuple(b',"obfuscation":"' + openai_chat.alnum(rng, rng.randrange(16)).encode() + b'"}\n\n'
                 for _ in range(count))


PADDINGS = 1024
# Sequence numbers as bytes, made once: formatting one (b"%d" % n) costs a
# fifth of what framing a delta does.
DECIMALS = 4096
_DECIMALS = tuple(b"%d" % n for n in range(DECIMALS))


def _decimal(number: int) -> bytes:
    return _DECIMALS[number] if number < DECIMALS else b"%d" % number
_PADDING_TABLE = _padding_table(PADDINGS)
_NO_PADDING_TABLE = (b"}\n\n",) * PADDINGS


class Encoder:
    """Frames the beats of one response: its ids, its sequence numbers."""

    def __init__(self, ask: Ask, *, rng: random.Random, created: int, padding: bytes) -> None:
        stem = rng.randbytes(8).hex()  # real ids share a stem: resp_0775…, fc_0775…, msg_0775…
        self.response_id = "resp_" + stem + rng.randbytes(17).hex()
        self._salt = int.from_bytes(rng.randbytes(17), "big")
        self._stem = stem
        self.created = created
        self.prompt_tokens = ask.prompt_tokens
        self._shape = Shape(ask.model, str(ask.option(_RESPONSE, "{}")))
        # A skeleton's slots, as far as they are known before any is filled.
        self._values = {_RID: self.response_id.encode(), _CREATED: b"%d" % created, _INPUT: b"%d" % ask.prompt_tokens}
        self._paddings = _PADDING_TABLE if ask.include_obfuscation else _NO_PADDING_TABLE
        self._first_padding = int.from_bytes(padding[:2], "big")
        self._mids: dict[tuple[bytes, bytes], bytes] = {}
        self._first_message = self._mid(b"m", _AT_ZERO)
        # Sequence numbers: beats with other than one frame, and their extra frames.
        self._extra: dict[int, int] = {}
        self._last_marked = -1
        self._total_extra = 0

    # ids

    def item_id(self, kind: str, output_index: int) -> str:
        prefix = "msg_" if kind == "m" else "fc_"
        return f"{prefix}{self._stem}{(self._salt + output_index * 0x9E3779B97F4A7C15) % (1 << 136):034x}"

    def _mid(self, kind: bytes, body: bytes) -> bytes:
        """``,"item_id":"…"`` for the item a delta body names by its output index."""
        key = (kind, body[_INDEX_AT : body.index(b",", _INDEX_AT)])
        mid = self._mids.get(key)
        if mid is None:
            mid = self._mids[key] = b',"item_id":"%s"' % self.item_id(kind.decode(), int(key[1])).encode()
        return mid

    def _value(self, slot: str) -> bytes:
        """What a skeleton's slot holds in this response: ``r``, ``c``, ``i``, a
        total of tokens (``t5``: the input tokens and 5), an item id (``m0``, ``f1``)."""
        value = self._values.get(slot)
        if value is None:
            kind, number = slot[0], int(slot[1:])
            value = b"%d" % (self.prompt_tokens + number) if kind == "t" else self.item_id(kind, number).encode()
            self._values[slot] = value
        return value

    def _fill(self, match: re.Match[bytes]) -> bytes:
        return self._value((match[1] + match[2]).decode())

    # sequence numbers

    def _sequence(self, index: int, frames: int) -> int:
        """The first sequence number of beat ``index``, which holds ``frames`` frames."""
        if index > self._last_marked:
            first = index + self._total_extra
            if frames != 1:
                self._extra[index] = frames - 1
                self._last_marked = index
                self._total_extra += frames - 1
            return first
        # A beat framed again, or out of order: count the marks before it.
        first = index + sum(extra for at, extra in self._extra.items() if at < index)
        if frames != 1 and index not in self._extra:
            self._extra[index] = frames - 1
            self._total_extra += frames - 1
        return first

    # frames

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        kind = type(event)
        if kind is events.Text:  # the hot path: most beats, and the first message's
            sequence = index + self._total_extra if index > self._last_marked else self._sequence(index, 1)
            mid = self._first_message if body.startswith(_AT_ZERO) else self._mid(b"m", body)
            # _decimal inline: calling it would cost what its table saves.
            number = _DECIMALS[sequence] if sequence < DECIMALS else b"%d" % sequence
            return b"".join((_TEXT_HEAD, number, mid, body, self._paddings[(self._first_padding + index) % PADDINGS]))
        if kind is events.ToolCallArguments:
            sequence = index + self._total_extra if index > self._last_marked else self._sequence(index, 1)
            return b"".join((_ARGS_HEAD, _decimal(sequence), self._mid(b"f", body), body,
                             self._paddings[(self._first_padding + index) % PADDINGS]))
        if event is None or kind is events.Comment or kind is events.Raw or not body.startswith(b"[{"):
            self._sequence(index, 0)
            return body
        return self._filled(_body_skeleton(body, self._shape), index)

    def _filled(self, skeleton: Skeleton, index: int) -> bytes:
        """The frames of beat ``index`` from their skeleton, with this response's values."""
        first = self._sequence(index, skeleton.frames)
        return b"".join([piece if isinstance(piece, bytes) else _decimal(first + piece) if isinstance(piece, int)
                         else self._value(piece) for piece in skeleton.pieces])

    def response(self, status: str, output: list[Json] | None = None, usage: Json | None = None,
                 incomplete_details: Json | None = None, error: Json | None = None) -> Json:
        """The response object in the given state (``_response_pieces`` writes the same as bytes)."""
        return {"id": self.response_id, "object": "response", "created_at": self.created, "status": status,
                "background": False, "completed_at": self.created if status in ENDED else None,
                **_state(_fields(self._shape), output, usage and _counted(usage, self.prompt_tokens),
                         incomplete_details, error)}

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        if isinstance(event, events.Error):
            return self._filled(skeleton(error_frames(event.message, event.type, event.code), self._shape), index)
        return self.frame(index, event_bodies([event])[0], event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        """The whole response object for ``stream: false``: what ``response.completed`` carries."""
        folded = events.fold(stream)
        output: list[Json] = []
        if folded.has_text and (folded.text or not folded.tool_calls):
            output.append(message_item(0, folded.text))
        for call in folded.tool_calls:
            output.append(call_item(len(output), call.id, call.name, call.arguments))
        status, incomplete = ending(folded.finish)
        usage = folded.usage or events.Usage(self.prompt_tokens, 0)
        body = self.response(status, output, usage_object(usage.prompt_tokens, usage.completion_tokens), incomplete)
        return _ITEM.sub(self._fill, json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8"))


# -- the dialect -------------------------------------------------------------

class OpenAIResponses(openai_chat.OpenAIFamily):
    name = "responses"
    title = "OpenAI Responses API"
    routes = (Route("POST", "/v1/responses"),)
    finish_reasons = FINISH_REASONS

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body)

    def encoder(self, response: Response) -> Encoder:
        return Encoder(response.ask, rng=response.rng, created=response.created, padding=response.padding)

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return event_bodies(stream)

    def understand(self, frame: bytes) -> events.Event | None:
        return understand(frame)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = self.routes[0]
        return Example(route.path, Call(route), {"model": model, "input": prompt, "stream": stream})


DIALECT = OpenAIResponses()
