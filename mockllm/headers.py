"""Header lists as the script holds them: ``((name, value), ...)``, names
compared without case, as HTTP does."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["merge_headers"]


def merge_headers(
    base: Iterable[tuple[str, str]], overrides: Iterable[tuple[str, str | None]]
) -> tuple[tuple[str, str], ...]:
    """``base`` with ``overrides`` applied by case-insensitive name; None removes."""
    merged: dict[str, tuple[str, str | None]] = {name.lower(): (name, value) for name, value in base}
    for name, value in overrides:
        merged[name.lower()] = (name, value)
    return tuple((name, value) for name, value in merged.values() if value is not None)
