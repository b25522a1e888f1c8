"""How text is cut into streamed pieces. Pure functions; joining the pieces
always gives back the input exactly."""

from __future__ import annotations

import re

# Whitespace travels with the token after it, as real tokenizers do:
# "one two" -> "one", " two". Trailing whitespace is a token of its own.
_WORD = re.compile(r"\s*\S+|\s+")
# Tool-call arguments stream in small pieces that cut through JSON tokens:
# '{"city": "Paris"}' -> '{"', 'city', '":', ' "', 'Paris', '"}'.
_FRAGMENT = re.compile(r"\s*\w+|\s*[^\w\s]+|\s+")


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text))


def chars(text: str) -> tuple[str, ...]:
    return tuple(text)


def fragments(arguments: str) -> tuple[str, ...]:
    return tuple(_FRAGMENT.findall(arguments))


TOKENIZERS = {"words": words, "chars": chars}
