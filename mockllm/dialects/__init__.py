"""Wire formats: one module per format, each holding one ``Dialect`` (``base.py``),
and ``DIALECTS``, the one table that routes, ``--mount PATH=FORMAT``,
``?format=`` and ``play --format`` read. Adding a format is a module and a row here."""

from __future__ import annotations

from . import content, openai_chat, openai_responses  # noqa: E402  (after base: they import it)
from .base import FINISH_REASONS, Ask, Call, Dialect, Encoder, Example, Listing, Response, Route

DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect
    for dialect in (
        openai_chat.DIALECT,
        content.DIALECT,
        openai_responses.DIALECT,
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


def _common(a: list[str], b: list[str]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


__all__ = [
    "DEFAULT", "DIALECTS", "FINISH_REASONS", "Ask", "Call", "Dialect", "Encoder", "Example", "Listing", "Response", "Route",
    "dialect_for",
]
