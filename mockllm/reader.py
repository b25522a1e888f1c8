"""Reading a YAML node tree into Python values, collecting problems with
file, line and key path instead of stopping at the first.

``NodeReader`` holds the shapes every part of a scenario is made of
(mappings with known keys, strings, counts, durations, choices, regexes);
``parse.py`` builds the scenario from them.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ScenarioError
from .yamlsource import line_of, scalar_value

T = TypeVar("T")

TAG = "tag:yaml.org,2002:"
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


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
    return repr(node.value)


def join(keypath: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{keypath}[{key}]"
    return f"{keypath}.{key}" if keypath else key


class NodeReader:
    """Walks the node tree, turning values into Python and problems into errors.

    Each reader method returns None after recording a problem, so parsing goes
    on and every problem in the file is reported.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[ScenarioError] = []

    def problem(self, node: Node, keypath: str, message: str) -> None:
        text = f"{keypath}: {message}" if keypath else message
        self.problems.append(ScenarioError(self.path, line_of(node), text, keypath or None))

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

    def _scalar(self, node: Node, keypath: str, tags: tuple[str, ...], expected: str):
        if isinstance(node, ScalarNode) and node.tag in tuple(TAG + t for t in tags):
            value = scalar_value(node)
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
        return self._scalar(node, keypath, ("str",), "a string")

    def integer(self, node: Node, keypath: str) -> int | None:
        return self._scalar(node, keypath, ("int",), "a whole number")

    def duration(self, node: Node, keypath: str) -> float | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        seconds = parse_duration(value)
        if seconds is None:
            self.problem(
                node, keypath, f"expected a duration like 250ms, 1.5s or 2m, got {describe(node)}"
            )
        return seconds

    def positive_number(self, node: Node, keypath: str) -> float | None:
        value = self._scalar(node, keypath, ("int", "float"), "a positive number")
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

    def regex(self, node: Node, keypath: str) -> re.Pattern[str] | None:
        value = self.string(node, keypath)
        if value is None:
            return None
        try:
            return re.compile(value)
        except re.error as exc:
            self.problem(node, keypath, f"invalid regular expression: {exc}")
            return None

    def each(self, node: Node, keypath: str, item: Callable[[Node, str], T | None]) -> tuple[T, ...]:
        items = self.sequence(node, keypath) or []
        parsed = (item(child, join(keypath, i)) for i, child in enumerate(items))
        return tuple(value for value in parsed if value is not None)

    def fraction(self, node: Node, keypath: str) -> float:
        value = self._scalar(node, keypath, ("int", "float"), "a probability from 0 to 1")
        if value is not None and not 0 <= value <= 1:
            self.problem(node, keypath, f"expected a probability from 0 to 1, got {describe(node)}")
        return value if value is not None else 0.0

    def headers(self, node: Node, keypath: str) -> tuple[tuple[str, str | None], ...]:
        """Header names to values; numbers become text, null removes a default header."""
        if not isinstance(node, MappingNode):
            self.problem(node, keypath, f"expected a mapping of header names to values, got {describe(node)}")
            return ()
        pairs = []
        for key, value in node.value:
            name = self.text(key, keypath, key.value)  # the name itself cannot go in the message
            if name is None:
                continue
            if isinstance(value, ScalarNode) and value.tag == TAG + "null":
                pairs.append((name, None))
            elif isinstance(value, ScalarNode) and value.tag in (TAG + "str", TAG + "int", TAG + "float"):
                text = self.text(value, join(keypath, key.value), value.value)
                if text is not None:
                    pairs.append((name, text))
            else:
                self.problem(value, join(keypath, key.value), f"expected a header value, got {describe(value)}")
        return tuple(pairs)
