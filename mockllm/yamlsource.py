"""Safe YAML loading into a node tree, so every value keeps its line number.

Only the core schema is accepted: mappings, sequences and plain scalars
(strings, numbers, booleans, null). Explicit tags such as ``!!python/object``,
duplicate keys and syntax errors are refused as ``ScenarioError`` with a line.

The tree is bounded before anything walks it (see ``limits``): the text's
size, its nesting (counted while composing, as PyYAML's composer recurses),
and the number of values once aliases are expanded, so neither a billion
laughs nor ``&a [*a]`` can hang or crash a walk over the tree.

    text ─ size ─> compose (depth) ─> measure (aliases) ─> check (tags, keys)

Where PyYAML has libyaml, its C parser turns the text into events and only
the composing is Python: three times faster than the pure-Python parser,
which spends most of a load scanning characters. The C parser's words for a
syntax error are not PyYAML's (and the docs quote PyYAML's), so text it
refuses is parsed again by the pure-Python loader, which then says why: a
refusal costs two parses, a file that loads costs one fast one. libyaml also
accepts two things PyYAML refuses (a differential fuzz found them: a tab
where PyYAML wants a space, and a comment glued to a block scalar's ``|`` or
``>``); text that may hold either goes to the pure-Python loader too, so a
file loads, or fails, the same with libyaml or without.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import yaml
from yaml.composer import Composer
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from .errors import ScenarioError, ScenarioErrors
from .limits import MAX_DEPTH, MAX_SOURCE_BYTES, MAX_VALUES

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(
    _CORE + name for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
# Scalar constructors by tag, called directly: SafeConstructor.construct_object
# remembers every node it ever built, so one shared constructor would keep
# every file a server ever parsed alive (and is not safe across threads).
_SCALAR_BUILDERS = yaml.constructor.SafeConstructor.yaml_constructors
_SCALARS = yaml.constructor.SafeConstructor()
_NEUTRAL = {ScalarNode: _CORE + "str", SequenceNode: _CORE + "seq", MappingNode: _CORE + "map"}


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


class _Refused(yaml.MarkedYAMLError):
    """A bound of ``limits`` passed while composing."""


class _Bounded(Composer):
    """The composer, refusing nesting deeper than ``MAX_DEPTH`` where it would
    otherwise recurse until Python gives up, and more than ``MAX_VALUES``
    values before reading on. Whichever parser is beneath it supplies the events."""

    _depth = 0  # counts kept per loader: each increment sets the instance's own
    _values = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        self._values += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(problem=f"nested more than {MAX_DEPTH} deep", problem_mark=self._mark())
            if self._values > MAX_VALUES:
                raise _Refused(problem=f"holds more than {MAX_VALUES} values", problem_mark=self._mark())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _mark(self) -> Mark | None:
        # The parser's next event: its mark has the line (C marks are alike but not a yaml.error.Mark).
        mark: Mark | None = self.peek_event().start_mark  # type: ignore[attr-defined]  # the parser's, beneath
        return mark


class _Loader(_Bounded, yaml.SafeLoader):
    """The pure-Python reader, scanner and parser: PyYAML's own words for every syntax error."""


_FastLoader: Callable[[str], _Bounded] | None
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    _FastLoader = None
else:

    class _CLoader(_Bounded, CParser, Resolver):
        """libyaml's parser beneath the same composer: the same tree, in a tenth of the parsing time."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)

    _FastLoader = _CLoader


def _compose(text: str) -> Node | None:
    """The node tree of ``text``: the C parser's when it has no complaint,
    else the pure-Python loader's, which raises in PyYAML's words."""
    if _FastLoader is not None and not _LENIENT.search(text):
        try:
            return _single_node(_FastLoader(text))
        except Exception:  # noqa: BLE001  # any refusal: the pure-Python loader says what it is
            pass
    return _single_node(_Loader(text))


# What libyaml accepts and PyYAML does not may start so (over-matching costs only speed).
_LENIENT = re.compile(r"\t|[|>][-+0-9]*#")


def _single_node(loader: _Bounded) -> Node | None:
    """What ``yaml.compose`` does, for a loader of ours."""
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()  # type: ignore[attr-defined]  # the parser's, beneath


@dataclass(frozen=True)
class Composed:
    """A checked tree (None for an empty document) and the problems that do not
    stop a reader walking it: duplicate keys, and unsupported tags, whose nodes
    are retagged as plain text or structure (so never built) and listed in
    ``refused``, for a reader to add no second problem about them."""

    node: Node | None
    problems: list[ScenarioError] = field(default_factory=list)
    refused: frozenset[int] = frozenset()  # ids of the retagged nodes


def compose(text: str, path: str) -> Composed:
    """Parse one YAML document; problems that leave no safe tree to walk
    raise ``ScenarioErrors``."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise _fatal(path, 1, f"the scenario is {size} bytes, larger than {MAX_SOURCE_BYTES} bytes (a limit of mockllm)")
    try:
        node = _compose(text)
    except _Refused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise _fatal(path, line, f"{exc.problem} (a limit of mockllm)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise _fatal(path, line, f"invalid YAML: {reason}") from None
    except yaml.reader.ReaderError as exc:  # its str() spans two lines and has no line number
        line = text.count("\n", 0, exc.position) + 1
        message = f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise _fatal(path, line, message) from None
    except yaml.YAMLError as exc:
        raise _fatal(path, 1, f"invalid YAML: {exc}") from None
    if node is None:
        return Composed(None)
    problem = _measure(node, path, 0, {}, set())[2]
    if problem is not None:
        raise ScenarioErrors([problem])
    fatal: list[ScenarioError] = []
    problems: list[ScenarioError] = []
    refused: set[int] = set()
    for found, stops in _check(node, path, set(), refused):
        (fatal if stops else problems).append(found)
    if fatal:
        raise ScenarioErrors(sorted(fatal + problems, key=lambda p: p.line or 0))
    return Composed(node, problems, frozenset(refused))


def _fatal(path: str, line: int, message: str) -> ScenarioErrors:
    return ScenarioErrors([ScenarioError(path, line, message)])


def _measure(
    node: Node, path: str, depth: int, sizes: dict[int, tuple[int, int]], open_: set[int]
) -> tuple[int, int, ScenarioError | None]:
    """(values, height, problem) of ``node`` with aliases expanded; sizes are
    memoised by node, so shared anchors cost one visit each. The recursion
    stops at ``MAX_DEPTH``, so it cannot exhaust Python's stack itself."""
    key = id(node)
    if key in open_:
        return 0, 0, ScenarioError(path, line_of(node), "an alias inside the value it names repeats it forever")
    if key not in sizes:
        children = _children(node)
        values, height = 1, 0
        open_.add(key)
        for child in children:
            if depth + 1 > MAX_DEPTH:
                return 0, 0, _too_deep(path, child)
            count, tall, problem = _measure(child, path, depth + 1, sizes, open_)
            if problem is not None:
                return 0, 0, problem
            values += count
            height = max(height, tall + 1)
            if values > MAX_VALUES:
                message = f"holds more than {MAX_VALUES} values, counting each alias expanded (a limit of mockllm)"
                return 0, 0, ScenarioError(path, line_of(node), message)
        open_.discard(key)
        sizes[key] = values, height
    values, height = sizes[key]
    if depth + height > MAX_DEPTH:
        return 0, 0, _too_deep(path, node)
    return values, height, None


def _too_deep(path: str, node: Node) -> ScenarioError:
    return ScenarioError(path, line_of(node), f"nested more than {MAX_DEPTH} deep, aliases followed (a limit of mockllm)")


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check(node: Node, path: str, seen: set[int], refused: set[int]) -> Iterator[tuple[ScenarioError, bool]]:
    """(problem, stops) pairs: ``stops`` when a reader cannot walk past it."""
    if id(node) in seen:  # an alias: already checked where the anchor stands
        return
    seen.add(id(node))
    if node.tag not in ALLOWED_TAGS:
        yield ScenarioError(path, line_of(node), f"unsupported YAML tag {node.tag!r}"), False
        node.tag = _NEUTRAL[type(node)]  # read as plain text or structure, never constructed
        refused.add(id(node))
    if isinstance(node, MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                yield ScenarioError(path, line_of(key), "mapping keys must be plain strings"), True
                continue
            if key.tag not in ALLOWED_TAGS:  # keys are never constructed, but a tag is still refused
                yield ScenarioError(path, line_of(key), f"unsupported YAML tag {key.tag!r}"), False
                key.tag = _NEUTRAL[ScalarNode]
                refused.add(id(key))
            if key.value in keys:
                yield ScenarioError(path, line_of(key), f"duplicate key {key.value!r}"), False
            keys.add(key.value)
            yield from _check(value, path, seen, refused)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _check(item, path, seen, refused)


def scalar_value(node: ScalarNode) -> object:
    """The Python value of a checked scalar node (str, int, float, bool or None).

    A caller reading an int bounds its digits first (``NodeReader.value``):
    Python refuses to read more than 4300.
    """
    return _SCALAR_BUILDERS[node.tag](_SCALARS, node)
