"""Reading a frame back: the pieces every dialect's ``understand`` shares.

    frame bytes ──sse_fields──▶ data, comment ──json_object──▶ dict ──the dialect──▶ event

``Dialect.understand`` runs on every frame of a proxied stream, so these take
what is there and never raise: bytes that are not the format, not UTF-8 or not
JSON read as nothing, and a field of an unexpected type reads as empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

from .. import events
from .conversation import dicts, string

__all__ = ["Fields", "compact", "dicts", "error_in", "first", "integer", "json_object", "obj", "sse_fields",
           "sse_understood", "string"]

_LINES = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Fields(NamedTuple):
    """What an SSE frame holds: its ``data`` lines joined (None: it has none),
    and its comment's text when comments are all it holds."""

    data: bytes | None
    comment: str | None = None


def sse_fields(frame: bytes) -> Fields:
    """The data and comment of one SSE frame, as the WHATWG rules read them
    (a stream's leading byte-order mark is skipped)."""
    if (data_line := _one_data_line(frame)) is not None:
        return Fields(data_line)  # nearly every frame of every format
    body = frame.removeprefix(_BOM).rstrip(b"\r\n")
    data: list[bytes] = []
    comments: list[bytes] = []
    others = False
    for line in _LINES.split(body):
        if line.startswith(b":"):
            comments.append(line[1:].removeprefix(b" "))
            continue
        field, _, value = line.partition(b":")
        if field == b"data":
            data.append(value.removeprefix(b" "))
        others = others or bool(line)
    if data:
        return Fields(b"\n".join(data))
    if comments and not others:
        return Fields(None, b"\n".join(comments).decode("utf-8", "replace"))
    return Fields(None)


def _one_data_line(frame: bytes) -> bytes | None:
    """The data of a frame that is one ``data: `` line and a blank line in LF or
    CRLF, found with a few memchr-speed checks; None for any other frame."""
    if not frame.startswith(b"data: "):
        return None
    lf = frame.find(b"\n")
    if lf == len(frame) - 2 and frame[-1] == 10 and b"\r" not in frame:
        return frame[6:lf]
    if lf == len(frame) - 3 and frame.endswith(b"\r\n\r\n") and frame.find(b"\r") == lf - 1:
        return frame[6 : lf - 1]
    return None


def json_object(data: bytes) -> dict[str, object] | None:
    """``data`` as a JSON object; None for anything else (not JSON, not UTF-8,
    an array or a number, nesting deeper than the parser goes)."""
    try:
        value = json.loads(data.decode("utf-8"))  # decoded here: the parser's own guess of the encoding costs more
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def sse_understood(frame: bytes, said: Callable[[dict[str, object]], events.Event | None],
                   done: bytes | None = None) -> events.Event | None:
    """What an SSE frame says: a comment, the format's ``done`` terminator, or
    what ``said`` reads in its JSON object."""
    fields = sse_fields(frame)
    if fields.data is None:
        return None if fields.comment is None else events.Comment(fields.comment)
    if fields.data == done:
        return events.Done()
    value = json_object(fields.data)
    return None if value is None else said(value)


def obj(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def first(value: object) -> dict[str, object]:
    """The first item of a JSON array, if it is an object."""
    return obj(value[0]) if isinstance(value, list) and value else {}


def integer(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text_or_none(value: object) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    return None


def error_in(value: dict[str, object]) -> events.Error | None:
    """The in-stream error a frame's object carries under ``error``, as every
    SDK finds it (a truthy ``error``): an object with a message, type (Gemini:
    ``status``) and code, or a bare message (Ollama)."""
    error = value.get("error")
    if isinstance(error, str) and error:
        return events.Error(error)
    if not isinstance(error, dict) or not error:
        return None
    return events.Error(_text_or_none(error.get("message")), _text_or_none(error.get("type") or error.get("status")),
                        _text_or_none(error.get("code")))


def compact(value: object) -> str:
    """A call's arguments sent as an object (Gemini, Ollama) as the JSON text the others stream."""
    try:
        return _DUMPS(value)
    except RecursionError:  # nested as deep as the parser went: a frame no model sends
        return ""
