"""Wire formats. Each dialect module parses its API's request into an ``Ask``
and encodes semantic events (``events.py``) into that API's bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ask:
    """What a client asked for, independent of the wire format."""

    model: str
    prompt: str = ""  # the last user message, for ``match`` rules
    stream: bool = False
    include_usage: bool = False
    include_obfuscation: bool = True
    prompt_tokens: int = 0
