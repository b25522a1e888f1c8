"""A JSON POST as the bytes a bare socket sends, for the clients that read
the wire themselves. Standard library only: the client scripts run it in
processes of their own (``import raw_post``), the test modules as part of
the package."""

from __future__ import annotations


def json_post(path: str, body: bytes, *, close: bool = False) -> bytes:
    """``close``: ask the server to close the connection once it has answered."""
    connection = "Connection: close\r\n" if close else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{connection}\r\n").encode() + body
