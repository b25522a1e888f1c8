"""Reading a YAML node tree into Python values, collecting problems with
file, line and key path instead of stopping at the first.

``NodeReader`` holds the shapes every part of a scenario is made of
(mappings with known keys, strings, counts, durations, choices, regexes,
headers, statuses); ``parse.py`` builds the scenario from them. Every value
of the file is read through ``value`` or ``plain``, which bound what Python
itself would fail on (a 5000-digit number), so no input ends in a traceback.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ScenarioError
from .limits import MAX_INT_DIGITS
from .patterns import Pattern, PatternError, compile_pattern
from .scenario import ScenarioWarning
from .yamlsource import line_of, scalar_value

T = TypeVar("T")

TAG = "tag:yaml.org,2002:"
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_BARE_SECONDS = 10  # a bare number this large in a duration was probably meant as ms
# RFC 9110 5.6.2: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# What a field value may not hold (RFC 9110 5.5): controls other than tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SHOWN = 40  # characters of a value quoted in a message


def parse_duration(value: object) -> float | None:
    """Seconds from ``250ms``, ``1.5s``, ``2m`` or a plain number; None if not a duration.

    Negative, infinite and NaN values (``.inf``, ``.nan``, a 400-digit number)
    are not durations: a delay must be a finite number of seconds.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value
    elif isinstance(value, str) and (found := _DURATION.match(value.strip())):
        seconds = float(found[1]) * _UNIT[found[2]]
    else:
        return None
    try:
        seconds = float(seconds)
    except OverflowError:
        return None
    return seconds if 0 <= seconds < math.inf else None


def _has_unit(value: object) -> bool:
    found = _DURATION.match(value.strip()) if isinstance(value, str) else None
    return bool(found and found[2])


def join_surrogates(text: str) -> tuple[str, str | None]:
    """``text`` with each surrogate pair joined into its character, and the
    first surrogate left over (None if there is none).

    YAML's ``"\\ud83c"`` escape gives a lone surrogate, which no UTF-8 stream
    can carry; a pair written the JSON way (``"\\ud83c\\udf89"``) is one
    character, and is read as that character.
    """
    if not _SURROGATE.search(text):
        return text, None
    joined = _SURROGATE_PAIR.sub(
        lambda pair: pair[0].encode("utf-16-le", "surrogatepass").decode("utf-16-le"), text
    )
    lone = _SURROGATE.search(joined)
    return joined, lone[0] if lone else None


def suggest(word: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (expected one of: {', '.join(options)})" if options else ""


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == TAG + "null":
        return "nothing (null)"
    return shorten(node.value)


def shorten(value: str) -> str:
    """``value`` quoted for a message, cut if long: a message fits on a line."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value)} characters)"


def join(keypath: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{keypath}[{key}]"
    key = key.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate, escaped: printable
    return f"{keypath}.{key}" if keypath else key


class NodeReader:
    """Walks the node tree, turning values into Python and problems into errors.

    Each reader method returns None after recording a problem, so parsing goes
    on and every problem in the file is reported.
    """

    def __init__(self, path: str, refused: frozenset[int] = frozenset()) -> None:
        self.path = path
        self.refused = refused  # nodes already reported (an unsupported tag)
        self.problems: list[ScenarioError] = []
        self.warnings: list[ScenarioWarning] = []

    def problem(self, node: Node, keypath: str, message: str) -> None:
        if id(node) in self.refused:
            return
        text = f"{keypath}: {message}" if keypath else message
        self.problems.append(ScenarioError(self.path, line_of(node), text, keypath or None))

    def warning(self, node: Node, keypath: str, message: str) -> None:
        self.warnings.append(ScenarioWarning(self.path, line_of(node), f"{keypath}: {message}", keypath))

    # -- values ------------------------------------------------------------

    def value(self, node: ScalarNode, keypath: str) -> object:
        """The scalar's Python value; None and a problem for a whole number
        too long to read (Python refuses over 4300 digits; we refuse sooner)."""
        if node.tag == TAG + "int" and len(node.value) > MAX_INT_DIGITS:
            self.problem(
                node, keypath,
                f"a whole number of {len(node.value)} digits is too long (at most {MAX_INT_DIGITS}, a limit of mockllm)",
            )
            return None
        return scalar_value(node)

    def plain(self, node: Node, keypath: str) -> object:
        """A node as JSON-able Python data (dicts, lists, scalars); the tree's
        depth is already bounded, so the recursion is."""
        if isinstance(node, MappingNode):
            return {key.value: self.plain(value, join(keypath, key.value)) for key, value in node.value}
        if isinstance(node, SequenceNode):
            return [self.plain(item, join(keypath, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)  # the one other kind of node
        value = self.value(node, keypath)
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, keypath, f"JSON has no infinity or NaN, got {describe(node)}")
        if isinstance(value, str):
            return self.text(node, keypath, value)
        return value

    # -- shapes ------------------------------------------------------------

    def mapping(self, node: Node, keypath: str, allowed: Iterable[str]) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, keypath, f"expected a mapping, got {describe(node)}")
            return None
        allowed = tuple(allowed)
        fields: dict[str, Node] = {}
        for key, value in node.value:
            if key.value in allowed:
                fields[key.value] = value
            else:
                self.problem(key, keypath, f"unknown key {key.value!r}{suggest(key.value, allowed)}")
        return fields

    def sequence(self, node: Node, keypath: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, keypath, f"expected a list, got {describe(node)}")
            return None
        return list(node.value)

    def _scalar(self, node: Node, keypath: str, tags: tuple[str, ...], expected: str) -> object:
        """The value of a scalar with one of ``tags`` (each tag's value has one
        Python type, which the callers narrow to); None and a problem otherwise."""
        if isinstance(node, ScalarNode) and node.tag in tuple(TAG + t for t in tags):
            value = self.value(node, keypath)
            return self.text(node, keypath, value) if isinstance(value, str) else value
        self.problem(node, keypath, f"expected {expected}, got {describe(node)}")
        return None

    def text(self, node: Node, keypath: str, value: str) -> str | None:
        """``value`` if UTF-8 can carry it (surrogate pairs joined); None and a
        problem for a lone surrogate, which would fail every response."""
        joined, lone = join_surrogates(value)
        if lone is not None:
            self.problem(node, keypath, f"contains a lone surrogate \\u{ord(lone):04x}, which is not valid UTF-8")
            return None
        return joined

    def string(self, node: Node, keypath: str) -> str | None:
        value = self._scalar(node, keypath, ("str",), "a string")
        return value if isinstance(value, str) else None

    def integer(self, node: Node, keypath: str) -> int | None:
        value = self._scalar(node, keypath, ("int",), "a whole number")
        return value if isinstance(value, int) else None

    def count(self, node: Node, keypath: str, minimum: int = 0) -> int | None:
        value = self.integer(node, keypath)
        if value is not None and value < minimum:
            self.problem(node, keypath, f"expected a whole number of at least {minimum}, got {value}")
            return None
        return value

    def boolean(self, node: Node, keypath: str) -> bool | None:
        value = self._scalar(node, keypath, ("bool",), "true or false")
        return value if isinstance(value, bool) else None

    def _number(self, node: Node, keypath: str, expected: str) -> float | None:
        value = self._scalar(node, keypath, ("int", "float"), expected)
        return value if isinstance(value, (int, float)) else None

    def duration(self, node: Node, keypath: str) -> float | None:
        before = len(self.problems)
        value = self.value(node, keypath) if isinstance(node, ScalarNode) else None
        seconds = parse_duration(value)
        if seconds is None and len(self.problems) > before:
            return None  # too many digits: already a problem
        if seconds is None:
            self.problem(
                node, keypath, f"expected a duration like 250ms, 1.5s or 2m, got {describe(node)}"
            )
        elif seconds >= _BARE_SECONDS and not _has_unit(value):
            # A number of seconds is legal (DESIGN.md), but `per_token: 40` is far
            # more often 40ms mistyped than 40 s between tokens.
            written = node.value.strip()
            self.warning(
                node, keypath,
                f"{written} with no unit means {written} seconds; did you mean {written}ms? Write {written}s to keep seconds.",
            )
        return seconds

    def positive_number(self, node: Node, keypath: str) -> float | None:
        value = self._number(node, keypath, "a positive number")
        if value is not None and not 0 < value < math.inf:  # also refuses .nan and .inf
            self.problem(node, keypath, f"expected a positive number, got {describe(node)}")
            return None
        return value

    def choice(self, node: Node, keypath: str, options: tuple[str, ...]) -> str | None:
        value = self.string(node, keypath)
        if value is not None and value not in options:
            self.problem(node, keypath, f"unknown value {value!r}{suggest(value, options)}")
            return None
        return value

    def regex(self, node: Node, keypath: str) -> Pattern | None:
        value = self.string(node, keypath)
        if value is None:
            return None
        try:
            return compile_pattern(value)
        except PatternError as exc:
            self.problem(node, keypath, str(exc))
            return None

    def header_value(self, node: Node, keypath: str, value: str) -> str | None:
        """``value`` if it can go in an HTTP header as written: no CR, LF, NUL
        or other control character, which would end or corrupt the head."""
        bad = _CONTROL.search(value)
        if bad:
            self.problem(node, keypath, f"a header value cannot hold {bad[0]!r} (control characters end or corrupt the head)")
            return None
        return value

    def status(self, node: Node, keypath: str) -> int | None:
        """An HTTP status a fault can send with its body: 200 to 599, but not
        204 or 304, whose responses have no body by definition (RFC 9110 6.4.1),
        so a client reads the body sent as the start of a next response."""
        code = self.integer(node, keypath)
        if code is None:
            return None
        if 100 <= code < 200:
            self.problem(node, keypath, f"{code} is an interim status, not a response: a client waits past it "
                         "for the real one (or, for 101, switches protocols)")
        elif code in (204, 304):
            self.problem(node, keypath, f"a {code} response has no body, but this fault sends one, "
                         "which a client then misreads as the next response")
        elif not 200 <= code <= 599:
            self.problem(node, keypath, f"expected an HTTP status from 200 to 599, got {code}")
        else:
            return code
        return None

    def each(self, node: Node, keypath: str, item: Callable[[Node, str], T | None]) -> tuple[T, ...]:
        items = self.sequence(node, keypath) or []
        parsed = (item(child, join(keypath, i)) for i, child in enumerate(items))
        return tuple(value for value in parsed if value is not None)

    def fraction(self, node: Node, keypath: str) -> float:
        value = self._number(node, keypath, "a probability from 0 to 1")
        if value is not None and not 0 <= value <= 1:
            self.problem(node, keypath, f"expected a probability from 0 to 1, got {describe(node)}")
        return value if value is not None else 0.0

    def headers(self, node: Node, keypath: str) -> tuple[tuple[str, str | None], ...]:
        """Header names to values; numbers become text, null removes a default header."""
        if not isinstance(node, MappingNode):
            self.problem(node, keypath, f"expected a mapping of header names to values, got {describe(node)}")
            return ()
        pairs: list[tuple[str, str | None]] = []
        for key, value in node.value:
            name = self.text(key, keypath, key.value)  # the name itself cannot go in the message
            if name is None:
                continue
            if not _TOKEN.fullmatch(name):
                self.problem(key, keypath, f"{shorten(name)} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
                continue
            if isinstance(value, ScalarNode) and value.tag == TAG + "null":
                pairs.append((name, None))
            elif isinstance(value, ScalarNode) and value.tag in (TAG + "str", TAG + "int", TAG + "float"):
                text = self.text(value, join(keypath, key.value), value.value)
                if text is not None:
                    text = self.header_value(value, join(keypath, key.value), text)
                if text is not None:
                    pairs.append((name, text))
            else:
                self.problem(value, join(keypath, key.value), f"expected a header value, got {describe(value)}")
        return tuple(pairs)
