"""``mockllm record``: one scenario file per exchange the proxy relays,
written when the upstream's answer has ended.

    Recorder.take(request, ask, status, headers, at) ─▶ Take.frame(at, bytes)… ─▶ Take.finish
                                                                                   └▶ DIR/NNN-slug.yaml

The file replays the exchange through ``serve``: a ``response:`` with the
upstream's status, the headers that matter and the wait before them, then
``steps:``, each frame exactly as it came as a ``raw`` step with the gap
before it as a ``sleep``, and a ``match`` on the request's last user message
(and its turn, in a conversation). Secrets never reach the file: no request
header is kept, credential and cookie headers are dropped from the response,
and the request's own credentials (and every ``--redact`` match) are scrubbed
from everything written, wherever the upstream echoed them.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .dialects import Ask, Dialect
from .patterns import Pattern, literal
from .upstream import SECRET_HEADERS, secrets

log = logging.getLogger("mockllm")

REDACTED = b"[REDACTED]"
# Response headers a replay has no use for: the hop's, the moment's and mockllm's own.
UNRECORDED = frozenset({
    "date", "server", "access-control-allow-origin", "access-control-expose-headers",
    "x-mockllm-scenario", "x-mockllm-attempt", "x-mockllm-turn", "x-mockllm-faults",
})
SHORTEST_GAP = 0.0001  # seconds; frames closer than this (one read) get no sleep between them


@dataclass(frozen=True, slots=True)
class Timing:
    """``--timing``: the recorded gaps as they were (``keep``), divided
    (``compress:X``), or left out (``none``)."""

    factor: float | None = 1.0  # None: no gaps at all

    @classmethod
    def parse(cls, text: str) -> Timing:
        if text == "keep":
            return cls(1.0)
        if text == "none":
            return cls(None)
        kind, _, value = text.partition(":")
        try:
            factor = float(value)
        except ValueError:
            factor = 0.0
        if kind != "compress" or not factor > 0 or factor == float("inf"):
            raise ValueError(f"expected keep, none or compress:X with X a number above 0, got {text!r}")
        return cls(factor)

    def gap(self, seconds: float) -> float:
        return 0.0 if self.factor is None else seconds / self.factor


@dataclass(frozen=True, slots=True)
class Recording:
    """Where and how ``mockllm record`` writes."""

    out: Path
    redact: tuple[Pattern, ...] = ()
    timing: Timing = field(default_factory=Timing)


class Recorder:
    """Numbers the takes of one run after any files already in the folder."""

    def __init__(self, recording: Recording, upstream: str) -> None:
        self.recording, self.upstream = recording, upstream
        recording.out.mkdir(parents=True, exist_ok=True)
        taken = [int(m[1]) for p in recording.out.glob("*.yaml") if (m := re.match(r"(\d+)-", p.name))]
        self._numbers = itertools.count(max(taken, default=0) + 1)
        self.matched: dict[str, Path] = {}  # each take's match, as JSON: the file that first had it

    def take(self, request: web.Request, dialect: Dialect, ask: Ask | None, status: int,
             headers: tuple[tuple[str, str], ...], at: float) -> Take:
        scrub = tuple(secret.encode("utf-8", "surrogateescape") for secret in secrets(request.headers, request.query))
        return Take(self, next(self._numbers), request.method, request.path, dialect, ask, status, headers, at, scrub)


class Take:
    """One exchange as it is recorded: its frames and when each arrived."""

    def __init__(self, recorder: Recorder, number: int, method: str, path: str, dialect: Dialect, ask: Ask | None,
                 status: int, headers: tuple[tuple[str, str], ...], at: float, secrets: tuple[bytes, ...]) -> None:
        self.recorder, self.number, self.method, self.path = recorder, number, method, path
        self.dialect, self.ask, self.status, self.headers, self.at = dialect, ask, status, headers, at
        self.frames: list[tuple[float, bytes]] = []
        self.pending = b""
        self.secrets = secrets  # the request's credentials, longest first

    def frame(self, at: float, data: bytes) -> None:
        """Bytes of the body that arrived at ``at``: cut into the format's frames."""
        frames, self.pending = self.dialect.framing.frames(self.pending + data)
        self.frames += [(at, frame) for frame in frames]

    def finish(self, complete: bool) -> None:
        if self.pending:
            self.frames.append((self.frames[-1][0] if self.frames else self.at, self.pending))
            self.pending = b""
        path = self.recorder.recording.out / f"{self.number:03d}-{_slug(self.ask, self.path)}.yaml"
        document = self.document(path.stem, complete)
        same = json.dumps(document.get("match"), sort_keys=True)
        earlier = self.recorder.matched.setdefault(same, path)
        if earlier != path:
            # An SDK's retry asks the same again: a replay answers with the first file that matches.
            log.warning("record: %s matches the same requests as %s, which a replay serves first; delete one "
                        "to keep the other", path.name, earlier.name)
        try:
            _write(path, document)
        except OSError as error:
            log.error("record: could not write %s: %s", path, error)
            return
        except Exception:  # a recording must never break the exchange it records
            log.exception("record: could not write %s", path)
            return
        log.info("recorded %s %s -> %s", self.method, self.path, path)

    def scrubbed(self, data: bytes) -> bytes:
        for secret in self.secrets:
            data = data.replace(secret, REDACTED)
        for pattern in self.recorder.recording.redact:
            data = pattern.redact(data, REDACTED)
        return data

    def _text(self, data: bytes) -> str:
        return self.scrubbed(data).decode("utf-8", "replace")

    def document(self, name: str, complete: bool) -> dict[str, Any]:
        timing = self.recorder.recording.timing
        steps: list[dict[str, Any]] = []
        previous = self.at
        for at, frame in self.frames:
            gap = timing.gap(at - previous)
            if gap >= SHORTEST_GAP:
                steps.append({"sleep": _duration(gap)})
            steps.append({"raw": _Frame(self._text(frame))})
            previous = at
        if not complete:
            steps.append({"close": "reset"})  # the upstream broke off here, or the client left
        headers = {str(name): self._text(value.encode()) for name, value in self.headers
                   if name.lower() not in SECRET_HEADERS and name.lower() not in UNRECORDED}
        response: dict[str, Any] = {"status": self.status, "headers": headers}
        if timing.gap(self.at) >= SHORTEST_GAP:
            response["delay"] = _duration(timing.gap(self.at))
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        document: dict[str, Any] = {
            "name": name,
            "description": f"Recorded {when} from {self.recorder.upstream}: {self.method} {self.path} -> "
                           f"{self.status}, {len(self.frames)} frame(s) in {self._seconds():.2f}s.",
        }
        if self.ask is not None:
            match: dict[str, Any] = {
                "prompt": "^" + literal(self._text(self.ask.prompt.encode())) + "$", "format": self.dialect.name}
            users = sum(m.role == "user" for m in self.ask.messages)
            if users > 1:
                match["turn"] = users
            document["match"] = match
        document["response"] = response
        document["steps"] = steps
        return document

    def _seconds(self) -> float:
        return (self.frames[-1][0] - self.at) if self.frames else 0.0


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms"


def _slug(ask: Ask | None, path: str) -> str:
    words = re.findall(r"[a-z0-9]+", (ask.prompt if ask is not None else "").lower())
    slug = "-".join(words)[:40].strip("-")
    return slug or "-".join(re.findall(r"[a-z0-9]+", path.lower()))[:40] or "exchange"


class _Frame(str):
    """A frame's text, written double-quoted on one line: its ``\\n`` and
    ``\\r`` stay visible, and it loads back to the same bytes."""


class _Dumper(yaml.SafeDumper):
    pass


def _quoted(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_Dumper.add_representer(_Frame, _quoted)


def _write(path: Path, document: dict[str, Any]) -> None:
    """The file whole or not at all: a reader never sees half a take."""
    text = "# Written by mockllm record; replay it with: mockllm serve --scenarios " + str(path.parent) + "\n"
    text += yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 30)
    partial = path.with_suffix(".yaml.part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
