"""Wire formats: one module per format, each holding one ``Dialect`` (``base.py``),
and ``DIALECTS``, the one table that routes, ``--mount PATH=FORMAT``,
``?format=`` and ``play --format`` read. Adding a format is a module and a row here."""

from __future__ import annotations

import functools
import re

from . import (  # noqa: E402  (after base: they import it)
    anthropic,
    content,
    embeddings,
    gemini,
    ollama,
    openai_chat,
    openai_completions,
    openai_responses,
)
from .base import FINISH_REASONS, Ask, Call, Dialect, Encoder, Example, Listing, Message, Response, Route

DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect
    for dialect in (
        openai_chat.DIALECT,
        content.DIALECT,
        openai_responses.DIALECT,
        openai_completions.DIALECT,
        embeddings.DIALECT,
        anthropic.DIALECT,
        gemini.DIALECT,
        ollama.DIALECT,
    )
}
DEFAULT = openai_chat.DIALECT  # for requests no route claims: a 404, the control plane


def dialect_for(path: str) -> Dialect:
    """The dialect whose routes share the most leading path segments with
    ``path``: the error shape of a request no route matched (``POST /api/nope``
    is Ollama's, ``/v1/nope`` OpenAI's); ties go to the first in the table."""
    segments = path.split("/")

    def shared(dialect: Dialect) -> int:
        paths = [route.path for route in dialect.routes] + [listing.path for listing in dialect.listings]
        return max((_common(segments, p.split("/")) for p in paths), default=0)

    best = max(DIALECTS.values(), key=shared)
    return best if shared(best) > shared(DEFAULT) else DEFAULT


def _common(segments: list[str], pattern: list[str]) -> int:
    """Leading segments of a path that a route's pattern matches (``{model}:x`` matches ``m:x``)."""
    count = 0
    for segment, wanted in zip(segments, pattern):
        if segment != wanted and not ("{" in wanted and _segment(wanted).fullmatch(segment)):
            break
        count += 1
    return count


@functools.lru_cache(maxsize=64)
def _segment(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(pattern)))


__all__ = [
    "DEFAULT", "DIALECTS", "FINISH_REASONS", "Ask", "Call", "Dialect", "Encoder", "Example", "Listing", "Message",
    "Response", "Route", "dialect_for",
]
