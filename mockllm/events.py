"""Semantic stream events: what a response says, before any wire format.

A dialect encodes each event into bytes; nothing else knows a wire format.
A reply's stream reads

    Start  TextStart Text… TextEnd  (ToolCallStart ToolCallArguments… ToolCallEnd)…  Finish [Usage] Done

The block events (``TextStart``, ``TextEnd``, ``ToolCallEnd``) are for formats
that frame each block (Anthropic's ``content_block_start``/``_stop``, the
Responses API's items); formats without such frames encode them as nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Start:
    """The opening of the reply (OpenAI: the ``role: assistant`` chunk)."""

    content: str | None = ""  # the real API sends null when only tool calls follow


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class TextStart:
    """The text block opens, before its first ``Text``."""


@dataclass(frozen=True, slots=True)
class TextEnd:
    """The text block closes, after its last ``Text``."""


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallArguments:
    index: int
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    """Tool call ``index`` has all its arguments."""

    index: int


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # the scenario's word (``base.FINISH_REASONS``); the dialect spells it


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Done:
    """The terminator (OpenAI: ``data: [DONE]``)."""


@dataclass(frozen=True, slots=True)
class Error:
    """The provider's in-stream error event, sent after a 200. A field left
    None is the dialect's: what its provider sends there."""

    message: str | None = None
    type: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    """An SSE comment line; every SDK ignores it."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes sent exactly as given, in any wire format."""

    data: bytes


Event = (
    Start | TextStart | Text | TextEnd | ToolCallStart | ToolCallArguments | ToolCallEnd | Finish | Usage
    | Done | Error | Comment | Raw
)

# Events that carry model output; ``after: N`` triggers count these.
CONTENT = (Text, ToolCallArguments)
# Events that open or close a block: formats without block frames send nothing for them.
BLOCKS = (TextStart, TextEnd, ToolCallEnd)


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str = ""


@dataclass(slots=True)
class Message:
    """A stream folded into the whole message it says (``fold``)."""

    text: str = ""
    has_text: bool = False  # a text block was sent, even an empty one
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str | None = None
    usage: Usage | None = None


def fold(stream: Iterable[Event]) -> Message:
    """What a client that reads the whole stream ends up with: the body of a
    ``stream: false`` response is built from this, so it says what the stream says."""
    message = Message()
    texts: list[str] = []
    calls: dict[int, ToolCall] = {}
    for event in stream:
        match event:
            case Text(text):
                texts.append(text)
            case Start(content):
                message.has_text = message.has_text or content is not None
            case TextStart():
                message.has_text = True
            case ToolCallStart(index, id_, name):
                calls[index] = ToolCall(id_, name)
            case ToolCallArguments(index, arguments) if index in calls:
                calls[index].arguments += arguments
            case Finish(reason):
                message.finish = reason
            case Usage():
                message.usage = event
    message.text = "".join(texts)
    message.has_text = message.has_text or bool(texts) or not calls
    message.tool_calls = [calls[i] for i in sorted(calls)]
    return message
