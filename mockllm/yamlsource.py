"""Safe YAML loading into a node tree, so every value keeps its line number.

Only the core schema is accepted: mappings, sequences and plain scalars
(strings, numbers, booleans, null). Explicit tags such as ``!!python/object``,
duplicate keys and syntax errors are refused as ``ScenarioError`` with a line.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ScenarioError, ScenarioErrors

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(
    _CORE + name for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_SCALARS = yaml.constructor.SafeConstructor()


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


def compose(text: str, path: str) -> Node | None:
    """Parse one YAML document into checked nodes; None for an empty document."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioErrors([ScenarioError(path, line, f"invalid YAML: {problem}")]) from None
    except yaml.reader.ReaderError as exc:  # its str() spans two lines and has no line number
        line = text.count("\n", 0, exc.position) + 1
        message = f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise ScenarioErrors([ScenarioError(path, line, message)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioErrors([ScenarioError(path, 1, f"invalid YAML: {exc}")]) from None
    if node is not None:
        problems = list(_check(node, path, set()))
        if problems:
            raise ScenarioErrors(problems)
    return node


def _check(node: Node, path: str, seen: set[int]):
    if id(node) in seen:  # an alias: already checked where the anchor stands
        return
    seen.add(id(node))
    if node.tag not in ALLOWED_TAGS:
        yield ScenarioError(path, line_of(node), f"unsupported YAML tag {node.tag!r}")
        return
    if isinstance(node, MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                yield ScenarioError(path, line_of(key), "mapping keys must be plain strings")
                continue
            if key.tag not in ALLOWED_TAGS:  # keys are never constructed, but a tag is still refused
                yield ScenarioError(path, line_of(key), f"unsupported YAML tag {key.tag!r}")
                continue
            if key.value in keys:
                yield ScenarioError(path, line_of(key), f"duplicate key {key.value!r}")
            keys.add(key.value)
            yield from _check(value, path, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _check(item, path, seen)


def scalar_value(node: ScalarNode) -> object:
    """The Python value of a checked scalar node (str, int, float, bool or None)."""
    return _SCALARS.construct_object(node)


def to_python(node: Node) -> object:
    """A checked node as plain Python data (dicts, lists, scalars)."""
    if isinstance(node, MappingNode):
        return {key.value: to_python(value) for key, value in node.value}
    if isinstance(node, SequenceNode):
        return [to_python(item) for item in node.value]
    return scalar_value(node)
