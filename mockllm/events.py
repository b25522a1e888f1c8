"""Semantic stream events: what a response says, before any wire format.

A dialect encodes each event into bytes; nothing else knows a wire format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Start:
    """The opening of the reply (OpenAI: the ``role: assistant`` chunk)."""

    content: str | None = ""  # the real API sends null when only tool calls follow


@dataclass(frozen=True, slots=True)
class Text:
    text: str


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
class Finish:
    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Done:
    """The terminator (OpenAI: ``data: [DONE]``)."""


@dataclass(frozen=True, slots=True)
class Error:
    """The provider's in-stream error event, sent after a 200."""

    message: str
    type: str = "server_error"
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    """An SSE comment line; every SDK ignores it."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes sent exactly as given, in any wire format."""

    data: bytes


Event = Start | Text | ToolCallStart | ToolCallArguments | Finish | Usage | Done | Error | Comment | Raw

# Events that carry model output; ``after: N`` triggers count these.
CONTENT = (Text, ToolCallArguments)
# Events that are one choice's delta: a dialect frames them all alike.
CHUNKS = (Start, Text, ToolCallStart, ToolCallArguments, Finish)
