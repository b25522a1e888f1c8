"""The journal: one frozen record per exchange, in a bounded ring buffer.

This is how a test asserts what its client really did: that a Stop button
cancelled the stream at token 7, or that an SDK retried exactly twice.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

DEFAULT_SIZE = 1000
BODY_LIMIT = 4096  # characters of a request body kept in its record


@dataclass(frozen=True, slots=True)
class Stall:
    """Where a response went silent, in seconds after the request arrived."""

    at: float
    seconds: float | None  # None: it never resumed


class Outcome(enum.Enum):
    COMPLETED = "completed"  # the response went out as planned (an HTTP error fault included)
    DROPPED = "dropped"  # a fault cut the connection
    CLIENT_DISCONNECTED = "client_disconnected"  # the client went away first
    SERVER_SHUTDOWN = "server_shutdown"  # still open when the server stopped and its grace period ran out
    ERROR = "error"  # the request was refused, or the server failed


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    time: float  # Unix time the request arrived
    method: str
    route: str
    status: int | None  # None: the connection ended before any response
    outcome: Outcome
    scenario: str | None = None
    session: str | None = None
    attempt: int | None = None
    client_retry_count: int | None = None  # the SDKs' own view (x-stainless-retry-count)
    request: object = None  # the JSON body, or its first characters when large or not JSON
    faults: tuple[str, ...] = ()
    ignored_faults: tuple[str, ...] = ()
    tokens: int = 0  # content tokens written
    bytes: int = 0  # body bytes written
    duration: float = 0.0
    error: str | None = None
    # What the verdicts (verdicts.py) read, besides the above:
    client: str | None = None  # the User-Agent, which names an SDK and its version
    last_event_id: str | None = None  # what an EventSource reconnect sent to resume
    retry_headers: tuple[tuple[str, str], ...] = ()  # retry-after, retry-after-ms, x-should-retry as sent
    event_retry: float | None = None  # seconds: the ``retry:`` an EventSource stream announced
    last_id_sent: int | None = None  # the id of the last EventSource event written
    stall: Stall | None = None  # the silence a stall fault made
    received: str | None = None  # the text written before a drop or a missing [DONE]
    assistant_texts: tuple[str, ...] = ()  # the model's turns the request carried back
    upstream_status: int | None = None  # the proxy's: what the upstream answered (None: not called)

    def to_json(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: that deep-copies the request
        # body, and a shared store encodes an entry per request.
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["outcome"] = self.outcome.value
        for name in ("faults", "ignored_faults", "assistant_texts"):
            data[name] = list(data[name])
        data["retry_headers"] = dict(self.retry_headers)
        if self.stall is not None:
            data["stall"] = dataclasses.asdict(self.stall)  # two floats: nothing to deep-copy
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        """The entry ``to_json`` gave (a shared store keeps entries as JSON)."""
        fields = dict(data, outcome=Outcome(data["outcome"]))
        for name in ("faults", "ignored_faults", "assistant_texts"):
            fields[name] = tuple(fields[name])
        fields["retry_headers"] = tuple(data["retry_headers"].items())
        if data["stall"] is not None:
            fields["stall"] = Stall(**data["stall"])
        return cls(**fields)


class Journal:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._ids = itertools.count(1)

    def record(self, **fields: Any) -> Entry:
        entry = Entry(id=next(self._ids), **fields)
        self._entries.append(entry)
        return entry

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


def request_summary(raw: bytes) -> object:
    """What a record keeps of a request body: the JSON value when it is small,
    else its first ``BODY_LIMIT`` characters."""
    text = raw.decode("utf-8", "replace")
    if len(text) > BODY_LIMIT:
        return text[:BODY_LIMIT] + "…"
    try:
        return json.loads(text)
    except ValueError:
        return text
