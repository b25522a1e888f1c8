"""Server-Sent Events framing, pure: LF line endings, one ``data:`` line per event."""

from __future__ import annotations


def data(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def comment(text: str) -> bytes:
    return b": " + text.encode("utf-8") + b"\n\n" if text else b":\n\n"
