"""Small readers for the conversation in a request body, shared by the dialects.

A dialect's ``parse`` first refuses what its API refuses; what is left is read
into ``Message`` values with these helpers, which take what is there and never
raise: a field of an unexpected type reads as empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

from .base import Message

__all__ = ["Message", "dicts", "last_user_text", "metadata", "model_turns", "named_results", "string", "tool_names"]


def string(value: object) -> str:
    return value if isinstance(value, str) else ""


def dicts(value: object) -> Iterator[dict[str, object]]:
    """The objects of a JSON array (nothing for anything else)."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def metadata(fields: object, user: object = None) -> tuple[tuple[str, str], ...]:
    """The string values of a request's metadata object, then ``user`` when
    it is a string (OpenAI's top-level ``user`` field)."""
    pairs = [(k, v) for k, v in fields.items() if isinstance(v, str)] if isinstance(fields, dict) else []
    if isinstance(user, str):
        pairs.append(("user", user))
    return tuple(pairs)


def tool_names(tools: object, *nested: str) -> tuple[str, ...]:
    """The names of the tools offered: ``tools[].name``, or under one of the
    ``nested`` keys (OpenAI chat's ``tools[].function.name``)."""
    names = []
    for tool in dicts(tools):
        holder = next((tool[key] for key in nested if isinstance(tool.get(key), dict)), tool)
        if isinstance(holder, dict) and isinstance(name := holder.get("name"), str):
            names.append(name)
    return tuple(names)


def model_turns(messages: Iterable[Message]) -> tuple[Message, ...]:
    """``messages`` with each run of assistant messages joined into one: a
    model turn sent in pieces is still one turn (its texts joined, its calls
    in order)."""
    out: list[Message] = []
    for message in messages:
        if message.role == "assistant" and out and out[-1].role == "assistant":
            turn = out[-1]
            message = dataclasses.replace(
                turn, text=turn.text + message.text, calls=turn.calls + message.calls,
                call_ids=turn.call_ids + message.call_ids,
            )
            out.pop()
        out.append(message)
    return tuple(out)


def named_results(messages: Sequence[Message]) -> tuple[Message, ...]:
    """``messages`` with each tool result named after the call it answers,
    for formats whose results carry only the call's id."""
    names: dict[str, str] = {}
    out = []
    for message in messages:
        names.update(zip(message.call_ids, message.calls))
        if message.role == "tool" and not message.result_of and message.call_id in names:
            message = dataclasses.replace(message, result_of=names[message.call_id])
        out.append(message)
    return tuple(out)


def last_user_text(messages: Sequence[Message]) -> str:
    """What ``match.prompt`` searches: the last user message's text (a tool
    result, though some formats send it as a user turn, is not one)."""
    return next((m.text for m in reversed(messages) if m.role == "user"), "")
