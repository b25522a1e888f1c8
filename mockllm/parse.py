"""YAML node tree -> ``Scenario``, every problem reported with file, line and key path.

A whole file is checked before anything is returned, so a user sees all of its
problems at once:

    scenarios/flaky.yaml:14: timing.per_token: expected a duration like 250ms, 1.5s or 2m, got '5x'
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import tokens
from .errors import ScenarioError, ScenarioErrors
from .faults import FAULTS, FaultSpec
from .scenario import FINISH_REASONS, Attempt, Reply, Scenario, Timing, ToolCall
from .yamlsource import compose, line_of, scalar_value, to_python

T = TypeVar("T")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
_TAG = "tag:yaml.org,2002:"

SCENARIO_KEYS = ("name", "description", "match", "reply", "timing", "seed", "faults", "attempts")


def parse_file(path: Path | str) -> Scenario:
    """Load one scenario file; raises ``ScenarioErrors`` naming every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioErrors([ScenarioError(str(path), 1, f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:  # unreadable (permissions, a file that vanished): a problem, not a traceback
        raise ScenarioErrors([ScenarioError(str(path), None, exc.strerror or str(exc))]) from None
    return parse_text(text, str(path), default_name=path.stem)


def parse_text(text: str, path: str, default_name: str | None = None) -> Scenario:
    node = compose(text, path)
    if node is None:
        raise ScenarioErrors([ScenarioError(path, 1, "the file holds no scenario")])
    reader = _Reader(path)
    scenario = reader.scenario(node, default_name)
    if reader.problems or scenario is None:
        # In file order, not the order the reader visits keys in.
        raise ScenarioErrors(sorted(reader.problems, key=lambda p: p.line or 0))
    return scenario


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


def _suggest(word: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (expected one of: {', '.join(options)})" if options else ""


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _TAG + "null":
        return "nothing (null)"
    return repr(node.value)


def _join(keypath: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{keypath}[{key}]"
    return f"{keypath}.{key}" if keypath else key


class _Reader:
    """Walks the node tree, turning values into Python and problems into errors.

    Each reader method returns None after recording a problem, so parsing goes
    on and every problem in the file is reported.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[ScenarioError] = []

    def problem(self, node: Node, keypath: str, message: str) -> None:
        text = f"{keypath}: {message}" if keypath else message
        self.problems.append(ScenarioError(self.path, line_of(node), text))

    # -- shapes ------------------------------------------------------------

    def mapping(self, node: Node, keypath: str, allowed: Iterable[str]) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, keypath, f"expected a mapping, got {_describe(node)}")
            return None
        allowed = tuple(allowed)
        fields: dict[str, Node] = {}
        for key, value in node.value:
            if key.value in allowed:
                fields[key.value] = value
            else:
                self.problem(key, keypath, f"unknown key {key.value!r}{_suggest(key.value, allowed)}")
        return fields

    def sequence(self, node: Node, keypath: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, keypath, f"expected a list, got {_describe(node)}")
            return None
        return list(node.value)

    def _scalar(self, node: Node, keypath: str, tags: tuple[str, ...], expected: str):
        if isinstance(node, ScalarNode) and node.tag in tuple(_TAG + t for t in tags):
            return scalar_value(node)
        self.problem(node, keypath, f"expected {expected}, got {_describe(node)}")
        return None

    def string(self, node: Node, keypath: str) -> str | None:
        return self._scalar(node, keypath, ("str",), "a string")

    def integer(self, node: Node, keypath: str) -> int | None:
        return self._scalar(node, keypath, ("int",), "a whole number")

    def duration(self, node: Node, keypath: str) -> float | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        seconds = parse_duration(value)
        if seconds is None:
            self.problem(
                node, keypath, f"expected a duration like 250ms, 1.5s or 2m, got {_describe(node)}"
            )
        return seconds

    def positive_number(self, node: Node, keypath: str) -> float | None:
        value = self._scalar(node, keypath, ("int", "float"), "a positive number")
        if value is not None and not 0 < value < math.inf:  # also refuses .nan and .inf
            self.problem(node, keypath, f"expected a positive number, got {_describe(node)}")
            return None
        return value

    def choice(self, node: Node, keypath: str, options: tuple[str, ...]) -> str | None:
        value = self.string(node, keypath)
        if value is not None and value not in options:
            self.problem(node, keypath, f"unknown value {value!r}{_suggest(value, options)}")
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
        parsed = (item(child, _join(keypath, i)) for i, child in enumerate(items))
        return tuple(value for value in parsed if value is not None)

    # -- the scenario --------------------------------------------------------

    def scenario(self, node: Node, default_name: str | None) -> Scenario | None:
        fields = self.mapping(node, "", SCENARIO_KEYS)
        if fields is None:
            return None
        name = default_name
        if "name" in fields:
            name = self.string(fields["name"], "name")
        if name is not None and not NAME.match(name):
            where = fields.get("name", node)
            self.problem(
                where, "name", f"{name!r} is not a valid name (letters, digits, '.', '_', ':', '-')"
            )
        if name is None and "name" not in fields:
            self.problem(node, "name", "missing (a scenario added without a file needs a name)")
        if "reply" not in fields:
            self.problem(node, "", "missing key 'reply'")
        reply = self.reply(fields["reply"], "reply") if "reply" in fields else None
        description = self.string(fields["description"], "description") if "description" in fields else ""
        match_prompt = self.match(fields["match"], "match") if "match" in fields else None
        timing = self.timing(fields["timing"], "timing") if "timing" in fields else Timing()
        seed = self.integer(fields["seed"], "seed") if "seed" in fields else None
        faults = self.faults(fields["faults"], "faults") if "faults" in fields else ()
        attempts = self.each(fields["attempts"], "attempts", self.attempt) if "attempts" in fields else ()
        if self.problems or reply is None or name is None:
            return None
        return Scenario(
            name=name,
            reply=reply,
            description=description or "",
            match_prompt=match_prompt,
            timing=timing or Timing(),
            seed=seed,
            faults=faults,
            attempts=attempts,
            source=self.path,
            line=line_of(fields.get("name", node)),
        )

    def match(self, node: Node, keypath: str) -> re.Pattern[str] | None:
        fields = self.mapping(node, keypath, ("prompt",))
        if fields and "prompt" in fields:
            return self.regex(fields["prompt"], _join(keypath, "prompt"))
        return None

    def reply(self, node: Node, keypath: str) -> Reply | None:
        fields = self.mapping(node, keypath, ("text", "tokenize", "tokens", "finish_reason", "tool_calls"))
        if fields is None:
            return None
        if "text" in fields and "tokens" in fields:
            self.problem(fields["tokens"], keypath, "give either 'text' or 'tokens', not both")
        if "tokenize" in fields and "text" not in fields:
            self.problem(fields["tokenize"], _join(keypath, "tokenize"), "only applies to 'text'")
        pieces: tuple[str, ...] = ()
        if "text" in fields:
            text = self.string(fields["text"], _join(keypath, "text"))
            how = "words"
            if "tokenize" in fields:
                how = self.choice(fields["tokenize"], _join(keypath, "tokenize"), tuple(tokens.TOKENIZERS))
            if text is not None and how is not None:
                pieces = tokens.TOKENIZERS[how](text)
        elif "tokens" in fields:
            pieces = self.each(fields["tokens"], _join(keypath, "tokens"), self.string)
        tool_calls = ()
        if "tool_calls" in fields:
            tool_calls = self.each(fields["tool_calls"], _join(keypath, "tool_calls"), self.tool_call)
        if not pieces and not tool_calls and "tool_calls" not in fields:
            if "text" not in fields and "tokens" not in fields:
                self.problem(node, keypath, "needs 'text', 'tokens' or 'tool_calls'")
        finish = "tool_calls" if tool_calls else "stop"
        if "finish_reason" in fields:
            finish = self.choice(fields["finish_reason"], _join(keypath, "finish_reason"), FINISH_REASONS)
        if finish is None:
            return None
        return Reply(tokens=pieces, tool_calls=tool_calls, finish_reason=finish)

    def tool_call(self, node: Node, keypath: str) -> ToolCall | None:
        fields = self.mapping(node, keypath, ("name", "arguments", "id"))
        if fields is None:
            return None
        if "name" not in fields:
            self.problem(node, keypath, "missing key 'name'")
            return None
        name = self.string(fields["name"], _join(keypath, "name"))
        call_id = self.string(fields["id"], _join(keypath, "id")) if "id" in fields else None
        arguments = "{}"
        if "arguments" in fields:
            arguments = self.arguments(fields["arguments"], _join(keypath, "arguments"))
        if name is None or arguments is None:
            return None
        return ToolCall(name=name, arguments=arguments, id=call_id)

    def arguments(self, node: Node, keypath: str) -> str | None:
        """A JSON string as written, or a mapping that is serialised for the user."""
        if isinstance(node, MappingNode):
            return json.dumps(to_python(node), ensure_ascii=False)
        text = self.string(node, keypath)
        if text is not None:
            try:
                json.loads(text)
            except ValueError as exc:
                self.problem(node, keypath, f"not valid JSON: {exc}")
                return None
        return text

    def timing(self, node: Node, keypath: str) -> Timing | None:
        keys = ("first_token", "per_token", "tokens_per_second", "jitter")
        fields = self.mapping(node, keypath, keys)
        if fields is None:
            return None
        if "per_token" in fields and "tokens_per_second" in fields:
            self.problem(fields["tokens_per_second"], keypath, "give 'per_token' or 'tokens_per_second', not both")
        values = {}
        for key in ("first_token", "per_token", "jitter"):
            if key in fields:
                values[key] = self.duration(fields[key], _join(keypath, key))
        if "tokens_per_second" in fields:
            rate = self.positive_number(fields["tokens_per_second"], _join(keypath, "tokens_per_second"))
            values["per_token"] = 1.0 / rate if rate else None
        if None in values.values():
            return None
        return Timing(**values)

    def faults(self, node: Node, keypath: str) -> tuple[FaultSpec, ...]:
        return self.each(node, keypath, self.fault)

    def fault(self, node: Node, keypath: str) -> FaultSpec | None:
        if isinstance(node, MappingNode) and len(node.value) == 1:
            name_node = node.value[0][0]
        elif isinstance(node, ScalarNode):
            name_node = node
        else:
            self.problem(node, keypath, f"expected a fault name or {{name: {{...}}}}, got {_describe(node)}")
            return None
        name = name_node.value
        if name not in FAULTS:
            self.problem(name_node, keypath, f"unknown fault {name!r}{_suggest(name, FAULTS)}")
        return None

    def attempt(self, node: Node, keypath: str) -> Attempt | None:
        fields = self.mapping(node, keypath, ("faults",))
        if fields is None:
            return None
        faults = self.faults(fields["faults"], _join(keypath, "faults")) if "faults" in fields else ()
        return Attempt(faults=faults)
