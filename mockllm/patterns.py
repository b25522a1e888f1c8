"""The regular expressions users write (``match.prompt``), run by RE2.

RE2 runs in time linear in the text, so no pattern and prompt, however
hostile (``(a+)+$`` against ``aaaa…!``), can hold the event loop. In return
it lacks backtracking's extras; ``compile_pattern`` names what it refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import re2

from .limits import MAX_REGEX_MEMORY

SYNTAX = "https://github.com/google/re2/wiki/Syntax"
MAX_REPEAT = 1000  # RE2's own bound on a {n,m} count, nested counts multiplied

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_REGEX_MEMORY
_OPTIONS.log_errors = False  # else RE2 writes every refusal to stderr itself

# What RE2's refusals mean, by the start of its message.
_UNSUPPORTED = (
    ("invalid perl operator: (?=", "lookahead (?=...)"),
    ("invalid perl operator: (?!", "negative lookahead (?!...)"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...)"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...)"),
    ("invalid perl operator: (?>", "atomic groups (?>...)"),
    ("invalid perl operator: (?P", "named backreferences (?P=name)"),
    ("invalid perl operator: (?#", "comments (?#...)"),
    ("invalid perl operator: (?x", "verbose mode (?x)"),
    ("invalid escape sequence: \\g", "backreferences \\g<...>"),
    ("invalid escape sequence: \\Z", "\\Z (write \\z)"),
    ("bad repetition operator: ++", "possessive repeats ++"),
    ("bad repetition operator: *+", "possessive repeats *+"),
    ("bad repetition operator: ?+", "possessive repeats ?+"),
)
# RE2 reads a count too long for it as literal text; Python's re overflows on it.
_COUNT = re.compile(r"\\.|\{(\d+)(?:,(\d*))?\}", re.DOTALL)


class _Regex(Protocol):
    """What ``Pattern`` uses of a compiled RE2 regex (google-re2 ships no types)."""

    def search(self, text: bytes) -> object | None: ...

    def sub(self, replacement: bytes, text: bytes) -> bytes: ...


class PatternError(ValueError):
    """A pattern RE2 will not run, with the reason in words."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled ``match.prompt``; equal to another of the same text."""

    text: str
    _regex: _Regex = field(compare=False, repr=False)

    def search(self, prompt: str) -> bool:
        # Bytes, because a JSON prompt may carry a lone surrogate ("\ud800"),
        # which RE2's own str path refuses to encode.
        return self._regex.search(prompt.encode("utf-8", "surrogatepass")) is not None

    def redact(self, data: bytes, replacement: bytes) -> bytes:
        """``data`` with every match replaced (in linear time, like ``search``)."""
        return self._regex.sub(replacement.replace(b"\\", b"\\\\"), data)


def literal(text: str) -> str:
    """A pattern that matches ``text`` itself: RE2's special characters escaped."""
    return _SPECIAL.sub(r"\\\g<0>", text)


_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")


def compile_pattern(text: str) -> Pattern:
    """``text`` compiled by RE2; ``PatternError`` saying why it cannot be."""
    for found in _COUNT.finditer(text):
        counts = [int(n) for n in found.groups() if n]
        if counts and max(counts) > MAX_REPEAT:
            raise PatternError(f"repeats {max(counts)} times; RE2 allows at most {MAX_REPEAT}")
    try:
        return Pattern(text, re2.compile(text, _OPTIONS))
    except re2.error as exc:
        raise PatternError(_explain(exc.args[0].decode("utf-8", "replace"))) from None


def _explain(reason: str) -> str:
    if reason.startswith("invalid repetition size: "):
        counts = reason.partition(": ")[2].strip("{}")
        return f"repeats {counts} times; RE2 allows at most {MAX_REPEAT} (nested repeats multiply)"
    if reason.startswith("pattern too large"):
        return f"too large for RE2 to compile in {MAX_REGEX_MEMORY // 2**20} MiB (a limit of mockllm)"
    feature = next((name for start, name in _UNSUPPORTED if reason.startswith(start)), None)
    if feature is None and re.match(r"invalid escape sequence: \\[1-9]", reason):
        feature = "backreferences \\1"
    if feature is not None:
        return f"RE2, a linear-time engine, does not support {feature}; see {SYNTAX}"
    return f"invalid regular expression: {reason}; see {SYNTAX}"
