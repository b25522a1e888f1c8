"""The plain-content format of a front end's own backend route.

Front ends rarely call a provider directly; tutorials have them call their
own ``POST /api/chat`` with ``{"message": "..."}`` and read frames like
``data: {"content": "..."}``. This dialect speaks that, so an existing front
end runs against mockllm unmodified (``serve --mount /api/chat=content``).

    text        data: {"content": "Hel"}
    tool call   data: {"tool_call": {"index": 0, "id": "call_…", "name": "f"}}
                data: {"tool_call": {"index": 0, "arguments": "{\\"a\\""}}
    error       data: {"error": {"message": "...", "type": "...", "code": null}}
    done        data: [DONE]

The opening, finish and usage events have no frame: the tutorial reader
(``text += JSON.parse(line.slice(6)).content``) would append "undefined" for
any frame without ``content`` but the ones it is written to expect.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence

from .. import events, sse, tokens
from ..errors import RequestError
from . import fields, openai_chat, reading
from .base import Ask, Call, Example, Headers, Message, Response, Route
from .openai_chat import TOKEN_CACHE, request_id

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def parse(body: object) -> Ask:
    """``{"message": "..."}`` or ``{"messages": [...]}``, as front ends send them;
    a field of the wrong type is refused, in the API's words, never ignored."""
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object.", code="invalid_type")
    message = body.get("message")
    messages = body.get("messages")
    if message is None and messages is None:
        raise RequestError(400, "Send 'message' (a string) or 'messages' (a list).", param="message",
                           code="missing_required_parameter")
    if message is not None and not isinstance(message, str):
        raise RequestError(400, "'message' must be a string.", param="message", code="invalid_type")
    if messages is not None and not isinstance(messages, list):
        raise RequestError(400, "'messages' must be a list.", param="messages", code="invalid_type")
    items: list[object] = messages or []
    for i, item in enumerate(items):
        _check_message(item, f"messages[{i}]")
    texts = [_text_of(m) for m in items]
    prompt = message if message is not None else next(
        (t for m, t in zip(reversed(items), reversed(texts)) if not isinstance(m, dict) or m.get("role", "user") == "user"),
        "",
    )
    model = fields.string(body, "model", default="")
    all_text = texts + ([message] if message else [])
    said = [Message(_role(m), t) for m, t in zip(items, texts)] + ([Message("user", message)] if message else [])
    return Ask(model=model, prompt=prompt, stream=True, prompt_tokens=sum(len(tokens.words(t)) for t in all_text),
               messages=tuple(said))


def _role(message: object) -> str:
    """A front end's message is a string (the user's) or an object whose role defaults to user."""
    role = message.get("role", "user") if isinstance(message, dict) else "user"
    return {"developer": "system", "function": "tool"}.get(role, role) if isinstance(role, str) else "user"


def _check_message(message: object, at: str) -> None:
    """A message is a string or an object whose role and content, if given, are well typed."""
    if isinstance(message, str):
        return
    if not isinstance(message, dict):
        raise fields.type_error(at, "one of a string or object", message)
    role = fields.string(message, "role", prefix=at + ".")
    if role is not None and role not in openai_chat.ROLES:
        raise fields.invalid_value(at + ".role", role, openai_chat.ROLES)
    content = message.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise fields.type_error(at + ".content", "one of a string or array of objects", content)


def _text_of(message: object) -> str:
    if isinstance(message, str):
        return message
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def headers(rng: random.Random, *, streaming: bool) -> Headers:
    return (
        ("Content-Type", "text/event-stream; charset=utf-8" if streaming else "application/json"),
        ("Cache-Control", "no-cache"),
        ("x-request-id", request_id(rng)),
    )


@functools.lru_cache(maxsize=TOKEN_CACHE)
def _text_body(text: str) -> bytes:
    """A text token's whole frame, the same in every response."""
    return sse.data(_DUMPS({"content": text}).encode("utf-8"))


def event_body(event: events.Event) -> bytes:
    """The event's whole frame: this format has no per-response part."""
    match event:
        case events.Text(text):
            return _text_body(text)
        case events.Start() | events.Finish() | events.Usage() | events.TextStart() | events.TextEnd() \
                | events.ToolCallEnd():
            return b""
        case events.ToolCallStart(index, call_id, name):
            return sse.data(_DUMPS({"tool_call": {"index": index, "id": call_id, "name": name}}).encode("utf-8"))
        case events.ToolCallArguments(index, arguments):
            return sse.data(_DUMPS({"tool_call": {"index": index, "arguments": arguments}}).encode("utf-8"))
        case events.Done():
            return b"data: [DONE]\n\n"
        case events.Error(message, type_, code):
            error = openai_chat.stream_error(message, type_, code)
            del error["param"]
            return sse.data(_DUMPS({"error": error}).encode("utf-8"))
        case events.Comment(text):
            return sse.comment(text)
        case events.Raw(data):
            return data
    raise TypeError(f"cannot encode {event!r}")


def understand(frame: bytes) -> events.Event | None:
    return reading.sse_understood(frame, _said, b"[DONE]")


def _said(value: dict[str, object]) -> events.Event | None:
    if error := reading.error_in(value):
        return error
    if text := reading.string(value.get("content")):
        return events.Text(text)
    call = reading.obj(value.get("tool_call"))
    index = reading.integer(call.get("index"))
    if arguments := reading.string(call.get("arguments")):
        return events.ToolCallArguments(index, arguments)
    if call.get("id") or call.get("name"):
        return events.ToolCallStart(index, reading.string(call.get("id")), reading.string(call.get("name")))
    return None


class Encoder:
    """This format has no per-response part: a body is its whole frame."""

    def frame(self, index: int, body: bytes, event: events.Event | None) -> bytes:
        return body

    def encode(self, event: events.Event, index: int = 0) -> bytes:
        return event_body(event)

    def complete(self, stream: Sequence[events.Event]) -> bytes:
        return _DUMPS({"content": events.fold(stream).text}).encode("utf-8")


class Content(openai_chat.OpenAIFamily):
    """A front end's own backend route; served only where ``--mount`` puts it."""

    name = "content"
    title = "plain content frames"

    def parse(self, body: object, call: Call) -> Ask:
        return parse(body)

    def encoder(self, response: Response) -> Encoder:
        return Encoder()

    def headers(self, rng: random.Random, *, streaming: bool, first_token: float) -> Headers:
        return headers(rng, streaming=streaming)

    def bodies(self, stream: Sequence[events.Event]) -> list[bytes]:
        return list(map(event_body, stream))

    def understand(self, frame: bytes) -> events.Event | None:
        return understand(frame)

    def example(self, model: str, prompt: str, *, stream: bool) -> Example:
        route = Route("POST", "/api/chat")  # where the tutorials mount it
        return Example(route.path, Call(route), {"message": prompt})


DIALECT = Content()
