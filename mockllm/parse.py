"""YAML node tree -> ``Scenario``, every problem reported with file, line and key path.

A whole file is checked before anything is returned, so a user sees all of its
problems at once:

    scenarios/flaky.yaml:14: timing.per_token: expected a duration like 250ms, 1.5s or 2m, got '5x'
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import events, tokens
from .dialects import DIALECTS
from .errors import ScenarioError, ScenarioErrors
from .faults import FAULTS, Fault, FaultSpec, Trigger
from .faults.body import Stall
from .faults.chaos import Chaos
from .limits import MAX_FAULTS, MAX_TOKENS
from .patterns import Pattern
from .quota import PER, Quota
from .reader import TAG, NodeReader, describe, join, parse_duration, suggest
from .scenario import (
    FINISH_REASONS,
    Attempt,
    Close,
    Head,
    Match,
    Reply,
    Scenario,
    Sleep,
    Step,
    Timing,
    ToolCall,
    ToolCallStep,
    UsageStep,
)
from .script import completion_tokens
from .yamlsource import compose, line_of

__all__ = ["label_as_yaml", "parse_duration", "parse_faults", "parse_file", "parse_text", "reply_of"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")

TRIGGER_KEYS = ("after", "at", "before")
SCENARIO_KEYS = (
    "name", "description", "match", "reply", "steps", "timing", "seed", "faults", "attempts", "chaos", "turns",
    "quota", "response",
)
TURN_KEYS = ("reply", "steps", "timing", "seed", "faults", "attempts", "chaos", "response")
# With ``turns``, these belong in each turn; the rest of TURN_KEYS are every turn's defaults.
TURN_ONLY_KEYS = ("reply", "steps", "faults", "attempts", "response")
RESPONSE_KEYS = ("status", "headers", "delay")
MATCH_KEYS = (
    "prompt", "turn", "has_tool_result", "tool_result_for", "tool_offered", "system", "last_role", "header",
    "metadata", "user", "format",
)
MATCH_REGEXES = ("prompt", "system", "user")  # searched for in the request's text
MATCH_NAMES = ("tool_result_for", "tool_offered")  # a tool's name
MATCH_PATTERN_MAPS = ("header", "metadata")  # {NAME: REGEX}
REPLY_KEYS = ("text", "tokenize", "tokens", "finish_reason", "tool_calls")
TOOL_CALL_KEYS = ("name", "arguments", "id")
TIMING_KEYS = ("first_token", "per_token", "tokens_per_second", "jitter", "retry")
TIMING_DURATIONS = ("first_token", "per_token", "jitter", "retry")
QUOTA_KEYS = ("rpm", "tpm", "per")
QUOTA_LIMITS = ("rpm", "tpm")
ATTEMPT_KEYS = ("faults",)
LAST_ROLES = ("user", "tool", "assistant", "system")
STEP_KINDS = ("start", "text", "tool_call", "sleep", "comment", "raw", "finish", "usage", "done", "error", "close")
BARE_STEPS: dict[str, Step] = {"start": events.Start(), "done": events.Done(), "usage": UsageStep(), "error": events.Error()}
TOOL_CALL_STEP_KEYS = ("index", "name", "arguments", "id")
USAGE_KEYS = ("prompt_tokens", "completion_tokens")
ERROR_KEYS = ("message", "type", "code")
CLOSE_MODES = ("reset", "close")


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


def parse_faults(text: str, source: str) -> tuple[FaultSpec, ...]:
    """Faults written on one line, as a request header gives them: the labels
    mockllm itself sends back (``stall(after=2,for=2s); drop``), or a YAML
    flow list (``[{drop: {after: 3}}]``). ``ScenarioErrors`` says what is wrong."""
    text = text.strip()
    written = text if text.startswith(("[", "{")) else "[" + ", ".join(map(label_as_yaml, text.split(";"))) + "]"
    return parse_text(f"name: faults\nfaults: {written}\n", source).faults


_LABEL = re.compile(r"\s*([A-Za-z_]+)\s*(?:\((.*)\))?\s*")


def label_as_yaml(label: str) -> str:
    """``stall(after=2,for=2s)`` as ``{stall: {after: 2, for: 2s}}``; a bare name as itself."""
    found = _LABEL.fullmatch(label)
    if found is None:
        return label  # the YAML reader then says what it is
    name, params = found[1], found[2]
    if not params:
        return name
    pairs = []
    for item in _top_level(params):
        key, _, value = item.partition("=")
        pairs.append(f"{key.strip()}: {re.sub(r':(?! )', ': ', value.strip()) if value.startswith('{') else value.strip()}")
    return "{" + name + ": {" + ", ".join(pairs) + "}}"


def _top_level(params: str) -> list[str]:
    """``params`` split at the commas outside braces (a status's ``headers={a:1,b:2}``)."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(params):
        depth += (char == "{") - (char == "}")
        if char == "," and depth == 0:
            items.append(params[start:i])
            start = i + 1
    items.append(params[start:])
    return [item for item in items if item.strip()]


def parse_text(text: str, path: str, default_name: str | None = None) -> Scenario:
    """The scenario in ``text``; ``ScenarioErrors`` (with the warnings found
    too) naming every problem. Its own warnings are in ``Scenario.warnings``."""
    composed = compose(text, path)
    if composed.node is None:
        raise ScenarioErrors([ScenarioError(path, 1, "the file holds no scenario")])
    reader = ScenarioReader(path, composed.refused)
    scenario = reader.scenario(composed.node, default_name)
    warnings = tuple(sorted(reader.warnings, key=lambda w: w.line))
    problems = composed.problems + reader.problems
    if problems or scenario is None:
        # In file order, not the order the reader visits keys in.
        raise ScenarioErrors(sorted(problems, key=lambda p: p.line or 0), warnings)
    return dataclasses.replace(scenario, warnings=warnings)


class _CallParts(TypedDict):
    """A tool call as its steps build it up: ``ToolCall``'s fields."""

    name: str
    arguments: str
    id: str | None


def reply_of(steps: tuple[Step, ...]) -> Reply:
    """What a hand-written script says, as a reply (for ``stream: false``)."""
    closing = next((i for i, step in enumerate(steps) if isinstance(step, Close)), len(steps))
    steps = steps[:closing]  # nothing after a close is ever sent
    texts = [step.text for step in steps if isinstance(step, events.Text)]
    calls: dict[int, _CallParts] = {}
    for step in steps:
        if isinstance(step, ToolCallStep):
            call = calls.setdefault(step.index, {"name": "", "arguments": "", "id": None})
            call["name"] = step.name or call["name"]
            call["id"] = step.id or call["id"]
            call["arguments"] += step.arguments
    tool_calls = tuple(ToolCall(**calls[index]) for index in sorted(calls))
    finishes = [step.reason for step in steps if isinstance(step, events.Finish)]
    default = "tool_calls" if tool_calls else "stop"
    return Reply(tokens=tuple(texts), tool_calls=tool_calls, finish_reason=finishes[-1] if finishes else default)


class ScenarioReader(NodeReader):
    """Reads a scenario's node tree; each method returns None after recording a problem."""

    def scenario(self, node: Node, default_name: str | None) -> Scenario | None:
        fields = self.mapping(node, "", SCENARIO_KEYS)
        if fields is None:
            return None
        name = default_name
        if "name" in fields:
            name = self.string(fields["name"], "name")
        if name is not None and not NAME.fullmatch(name):
            where = fields.get("name", node)
            self.problem(
                where, "name", f"{name!r} is not a valid name (letters, digits, '.', '_', ':', '-')"
            )
        if name is None and "name" not in fields:
            self.problem(node, "name", "missing (a scenario added without a file needs a name)")
        description = self.string(fields["description"], "description") if "description" in fields else ""
        match = self.match(fields["match"], "match") if "match" in fields else None
        turns: tuple[dict[str, Any], ...] = ()
        if "turns" in fields:
            for key in TURN_ONLY_KEYS:
                if key in fields:
                    self.problem(fields[key], key, "belongs in each turn when 'turns' is given")
            shared = self.answer(fields, node, "", shared=True) or {}  # timing, seed, chaos: every turn's default
            turns = self.each(fields["turns"], "turns", lambda item, keypath: self.turn(item, keypath, shared))
            if not turns and not self.problems:
                self.problem(fields["turns"], "turns", "needs at least one turn")
            answer = turns[0] if turns else None
        else:
            answer = self.answer(fields, node, "")
        quota = self.quota(fields["quota"], "quota") if "quota" in fields else None  # the whole conversation's
        if self.problems or answer is None or name is None:
            return None
        common: dict[str, Any] = dict(name=name, description=description or "", match=match, quota=quota,
                                      source=self.path, line=line_of(fields.get("name", node)))
        # A conversation is its first turn to whoever reads it without one (listings, ``play``).
        return Scenario(
            **common, **answer, turn=1 if turns else None,
            turns=tuple(Scenario(**common, **turn, turn=i) for i, turn in enumerate(turns, 1)),
        )

    def turn(self, node: Node, keypath: str, shared: dict[str, Any]) -> dict[str, Any] | None:
        fields = self.mapping(node, keypath, TURN_KEYS)
        if fields is None:
            return None
        answer = self.answer(fields, node, keypath)  # holds only the keys the turn gives
        return None if answer is None else {**shared, **answer}

    def answer(self, fields: dict[str, Node], node: Node, keypath: str, *, shared: bool = False) -> dict[str, Any] | None:
        """What a scenario (or one of its turns) answers with and how: its reply
        or steps, timing, seed, faults, attempts and chaos, as ``Scenario``
        fields. ``shared``: only the keys that a conversation's turns inherit."""
        values: dict[str, Any] = {}
        if "timing" in fields:
            values["timing"] = self.timing(fields["timing"], join(keypath, "timing")) or Timing()
        if "seed" in fields:
            values["seed"] = self.integer(fields["seed"], join(keypath, "seed"))
        if "chaos" in fields:
            values["chaos"] = self.chaos(fields["chaos"], join(keypath, "chaos"))
        if shared:
            return values
        steps: tuple[Step, ...] | None = None
        if "reply" in fields and "steps" in fields:
            self.problem(fields["steps"], keypath, "give either 'reply' or 'steps', not both")
        elif "steps" in fields:
            if "timing" in fields:
                self.problem(fields["timing"], join(keypath, "timing"),
                             "applies to 'reply'; steps set their own pace with 'sleep'")
            steps = self.each(fields["steps"], join(keypath, "steps"), self.step)
        elif "reply" not in fields and keypath:
            self.problem(node, keypath, "missing key 'reply' (or 'steps')")
        elif "reply" not in fields:
            values["rule"] = True
            self.warning(node, "reply", "none (and no 'steps'): a rule for `mockllm proxy`, whose upstream "
                         "answers; `mockllm serve` answers it with an error")
        reply = self.reply(fields["reply"], join(keypath, "reply")) if "reply" in fields else None
        if values.get("rule"):
            reply = Reply()
        if steps is not None:
            reply = reply_of(steps)
        if "faults" in fields and "attempts" in fields:
            # Top-level faults would never apply: each attempt has its own list.
            self.problem(fields["attempts"], join(keypath, "attempts"),
                         "give either 'faults' (every attempt) or 'attempts', not both")
        if "faults" in fields:
            values["faults"] = self.faults(fields["faults"], join(keypath, "faults"))
        if "attempts" in fields:
            values["attempts"] = self.each(fields["attempts"], join(keypath, "attempts"), self.attempt)
        if "response" in fields:
            if steps is None:
                self.problem(fields["response"], join(keypath, "response"),
                             "needs 'steps': the body that goes out after this status and headers")
            values["response"] = self.response(fields["response"], join(keypath, "response"))
        if reply is None:
            return None
        return {**values, "reply": reply, "steps": steps}

    def response(self, node: Node, keypath: str) -> Head | None:
        fields = self.mapping(node, keypath, RESPONSE_KEYS)
        if fields is None:
            return None
        status = self.status(fields["status"], join(keypath, "status")) if "status" in fields else 200
        delay = self.duration(fields["delay"], join(keypath, "delay")) if "delay" in fields else 0.0
        headers = self.headers(fields["headers"], join(keypath, "headers")) if "headers" in fields else ()
        return Head(status or 200, headers, delay or 0.0)

    def match(self, node: Node, keypath: str) -> Match | None:
        fields = self.mapping(node, keypath, MATCH_KEYS)
        if fields is None:
            return None
        rules: dict[str, Any] = {}
        for key in MATCH_REGEXES:
            if key in fields:
                rules[key] = self.regex(fields[key], join(keypath, key))
        for key in MATCH_NAMES:
            if key in fields:
                rules[key] = self.string(fields[key], join(keypath, key))
        if "turn" in fields:
            rules["turn"] = self.count(fields["turn"], join(keypath, "turn"), minimum=1)
        if "has_tool_result" in fields:
            rules["has_tool_result"] = self.boolean(fields["has_tool_result"], join(keypath, "has_tool_result"))
        if "format" in fields:
            rules["format"] = self.choice(fields["format"], join(keypath, "format"), tuple(DIALECTS))
        if "last_role" in fields:
            rules["last_role"] = self.choice(fields["last_role"], join(keypath, "last_role"), LAST_ROLES)
        for key in MATCH_PATTERN_MAPS:
            if key in fields:
                rules[key] = self.patterns(fields[key], join(keypath, key))
        if any(value is None for value in rules.values()):
            return None
        return Match(**rules)

    def patterns(self, node: Node, keypath: str) -> tuple[tuple[str, Pattern], ...] | None:
        """``{NAME: REGEX, ...}``: a name's value must match its pattern."""
        if not isinstance(node, MappingNode):
            self.problem(node, keypath, f"expected a mapping of names to patterns, got {describe(node)}")
            return None
        pairs = []
        for key_node, value_node in node.value:
            key = self.string(key_node, keypath)
            pattern = self.regex(value_node, join(keypath, str(key)))
            if key is None or pattern is None:
                return None
            pairs.append((key, pattern))
        return tuple(pairs)

    def reply(self, node: Node, keypath: str) -> Reply | None:
        fields = self.mapping(node, keypath, REPLY_KEYS)
        if fields is None:
            return None
        if "text" in fields and "tokens" in fields:
            self.problem(fields["tokens"], keypath, "give either 'text' or 'tokens', not both")
        if "tokenize" in fields and "text" not in fields:
            self.problem(fields["tokenize"], join(keypath, "tokenize"), "only applies to 'text'")
        pieces: tuple[str, ...] = ()
        if "text" in fields:
            text = self.string(fields["text"], join(keypath, "text"))
            how: str | None = "words"
            if "tokenize" in fields:
                how = self.choice(fields["tokenize"], join(keypath, "tokenize"), tuple(tokens.TOKENIZERS))
            if text is not None and how is not None:
                pieces = tokens.TOKENIZERS[how](text)
        elif "tokens" in fields:
            pieces = self.each(fields["tokens"], join(keypath, "tokens"), self.string)
        tool_calls: tuple[ToolCall, ...] = ()
        if "tool_calls" in fields:
            tool_calls = self.each(fields["tool_calls"], join(keypath, "tool_calls"), self.tool_call)
        if not pieces and not tool_calls and "tool_calls" not in fields:
            if "text" not in fields and "tokens" not in fields:
                self.problem(node, keypath, "needs 'text', 'tokens' or 'tool_calls'")
        finish: str | None = "tool_calls" if tool_calls else "stop"
        if "finish_reason" in fields:
            finish = self.choice(fields["finish_reason"], join(keypath, "finish_reason"), FINISH_REASONS)
        if finish is None:
            return None
        reply = Reply(tokens=pieces, tool_calls=tool_calls, finish_reason=finish)
        count = completion_tokens(reply)
        if count > MAX_TOKENS:
            self.problem(node, keypath, f"{count} tokens (text tokens and tool-call argument fragments); "
                         f"a scenario holds at most {MAX_TOKENS} (a limit of mockllm)")
            return None
        return reply

    def tool_call(self, node: Node, keypath: str) -> ToolCall | None:
        fields = self.mapping(node, keypath, TOOL_CALL_KEYS)
        if fields is None:
            return None
        if "name" not in fields:
            self.problem(node, keypath, "missing key 'name'")
            return None
        name = self.string(fields["name"], join(keypath, "name"))
        call_id = self.string(fields["id"], join(keypath, "id")) if "id" in fields else None
        arguments: str | None = "{}"
        if "arguments" in fields:
            arguments = self.arguments(fields["arguments"], join(keypath, "arguments"))
        if name is None or arguments is None:
            return None
        return ToolCall(name=name, arguments=arguments, id=call_id)

    def arguments(self, node: Node, keypath: str) -> str | None:
        """A JSON string as written, or a mapping that is serialised for the user."""
        if isinstance(node, MappingNode):
            return json.dumps(self.plain(node, keypath), ensure_ascii=False)
        text = self.string(node, keypath)
        if text is not None:
            try:
                json.loads(text)
            except ValueError as exc:
                self.problem(node, keypath, f"not valid JSON: {exc}")
                return None
        return text

    def timing(self, node: Node, keypath: str) -> Timing | None:
        fields = self.mapping(node, keypath, TIMING_KEYS)
        if fields is None:
            return None
        if "per_token" in fields and "tokens_per_second" in fields:
            self.problem(fields["tokens_per_second"], keypath, "give 'per_token' or 'tokens_per_second', not both")
        values: dict[str, float | None] = {}
        for key in TIMING_DURATIONS:
            if key in fields:
                values[key] = self.duration(fields[key], join(keypath, key))
        if "tokens_per_second" in fields:
            rate = self.positive_number(fields["tokens_per_second"], join(keypath, "tokens_per_second"))
            values["per_token"] = 1.0 / rate if rate else None
        durations = {key: seconds for key, seconds in values.items() if seconds is not None}
        if len(durations) < len(values):
            return None
        return Timing(**durations)

    def faults(self, node: Node, keypath: str) -> tuple[FaultSpec, ...]:
        if isinstance(node, SequenceNode) and len(node.value) > MAX_FAULTS:
            self.problem(node, keypath, f"{len(node.value)} faults; a list holds at most {MAX_FAULTS} (a limit of mockllm)")
            return ()
        return self.each(node, keypath, self.fault)

    def fault(self, node: Node, keypath: str) -> FaultSpec | None:
        """``- name`` or ``- name: {params}``, read against the fault class's fields."""
        name_node: Node
        params_node: Node | None
        if isinstance(node, ScalarNode) and node.tag == TAG + "str":
            name_node, params_node = node, None
        elif isinstance(node, MappingNode) and len(node.value) == 1:
            name_node, params_node = node.value[0]
        else:
            self.problem(node, keypath, f"expected a fault name or {{name: {{...}}}}, got {describe(node)}")
            return None
        cls = FAULTS.get(name_node.value)
        if cls is None:
            self.problem(name_node, keypath, f"unknown fault {name_node.value!r}{suggest(name_node.value, FAULTS)}")
            return None
        keypath = join(keypath, cls.name)
        schema = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
        params: dict[str, Node] | None = {}
        if params_node is not None and params_node.tag != TAG + "null":
            params = self.mapping(params_node, keypath, (*schema, "probability", *TRIGGER_KEYS))
        if params is None:
            return None
        if not cls.triggered:
            for key in TRIGGER_KEYS:
                if key in params:
                    self.problem(params[key], join(keypath, key), f"{cls.name} acts on the whole response; it takes no '{key}'")
        before = len(self.problems)
        values = {
            schema[key].name: self.fault_param(value, join(keypath, key), schema[key].metadata)
            for key, value in params.items()
            if key in schema
        }
        for key, spec in schema.items():
            required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            if required and key not in params:
                self.problem(params_node or name_node, keypath, f"missing key {key!r}")
        trigger = self.trigger(cls, params, keypath) if cls.triggered else None

        probability = 1.0
        if "probability" in params:
            probability = self.fraction(params["probability"], join(keypath, "probability"))
        if len(self.problems) > before:
            return None
        fault = cls(**values)
        if isinstance(fault, Stall) and fault.seconds and fault.heartbeat and fault.seconds / fault.heartbeat > MAX_TOKENS:
            # Each ping is a beat of the compiled script, built per response.
            self.problem(params_node or name_node, keypath, f"sends {fault.seconds / fault.heartbeat:.0f} heartbeats; "
                         f"a stall sends at most {MAX_TOKENS} (a limit of mockllm)")
            return None
        return FaultSpec(fault, trigger, probability)

    def fault_param(self, node: Node, keypath: str, meta: Mapping[str, Any]) -> object:
        """A parameter read as its field's metadata says (the schema ``faults.base``
        writes; a dataclass field's metadata is typed ``Mapping[Any, Any]``)."""
        kind = meta["kind"]
        if kind == "duration":
            if meta.get("forever") and isinstance(node, ScalarNode) and node.value == "forever":
                return None
            return self.duration(node, keypath)
        if kind == "count":
            return self.count(node, keypath, meta["minimum"])
        if kind == "choice":
            return self.choice(node, keypath, meta["options"])
        if kind == "status":
            return self.status(node, keypath)
        if kind == "headers":
            return self.headers(node, keypath)
        # Text parameters take numbers as written (a status message "404").
        text = self._scalar(node, keypath, ("str", "int", "float"), "a string")
        if text is None:
            return None
        text = text if isinstance(text, str) else node.value
        return self.header_value(node, keypath, text) if meta.get("header") else text

    def trigger(self, cls: type[Fault], params: dict[str, Node], keypath: str) -> Trigger | None:
        given = [key for key in TRIGGER_KEYS if key in params]
        if len(given) > 1:
            self.problem(params[given[1]], keypath, f"give only one of {', '.join(TRIGGER_KEYS)}")
            return None
        if not given:
            return None
        key = given[0]
        node = params[key]
        if key == "after":
            if isinstance(node, ScalarNode) and node.value == "done":
                return Trigger(done=True)
            count: object = None
            if isinstance(node, ScalarNode) and node.tag == TAG + "int":
                count = self.value(node, join(keypath, key))
                if count is None:
                    return None  # too many digits: already a problem
            if not isinstance(count, int) or count < 0:
                self.problem(node, join(keypath, key), f"expected a token count or 'done', got {describe(node)}")
                return None
            return Trigger(after=count)
        if key == "at":
            return Trigger(at=self.duration(node, join(keypath, key)))
        if not cls.can_precede_headers:
            self.problem(node, join(keypath, key), f"'before' does not apply to {cls.name} (only to drop and stall)")
        elif self.choice(node, join(keypath, key), ("headers",)) is not None:
            return Trigger(before_headers=True)
        return None

    def step(self, node: Node, keypath: str) -> Step | None:
        """``- done`` or ``- text: "Hel"``: one step of a hand-written script."""
        if isinstance(node, ScalarNode) and node.tag == TAG + "str":
            if node.value in BARE_STEPS:
                return BARE_STEPS[node.value]
            self.problem(node, keypath, f"unknown step {node.value!r}{suggest(node.value, STEP_KINDS)}")
            return None
        if not (isinstance(node, MappingNode) and len(node.value) == 1):
            self.problem(node, keypath, f"expected a step like '- text: Hello' or '- done', got {describe(node)}")
            return None
        kind_node, value = node.value[0]
        kind = kind_node.value
        keypath = join(keypath, kind)
        if kind == "text":
            text = self.string(value, keypath)
            return None if text is None else events.Text(text)
        if kind == "comment":
            text = self.string(value, keypath)
            return None if text is None else events.Comment(text)
        if kind == "raw":
            text = self.string(value, keypath)
            return None if text is None else events.Raw(text.encode("utf-8"))
        if kind == "sleep":
            seconds = self.duration(value, keypath)
            return None if seconds is None else Sleep(seconds)
        if kind == "finish":
            reason = self.choice(value, keypath, FINISH_REASONS)
            return None if reason is None else events.Finish(reason)
        if kind == "close":
            mode = self.choice(value, keypath, CLOSE_MODES)
            return None if mode is None else Close(mode)
        if kind == "tool_call":
            return self.tool_call_step(value, keypath)
        if kind == "usage":
            fields = self.mapping(value, keypath, USAGE_KEYS)
            if fields is None:
                return None
            counts = {key: self.integer(child, join(keypath, key)) for key, child in fields.items()}
            return UsageStep(**counts)
        if kind == "error":
            fields = self.mapping(value, keypath, ERROR_KEYS)
            if fields is None:
                return None
            given = {key: self.string(child, join(keypath, key)) for key, child in fields.items()}
            return events.Error(**given)
        if kind in BARE_STEPS:
            self.problem(value, keypath, f"takes no value; write '- {kind}'")
            return None
        self.problem(kind_node, keypath, f"unknown step{suggest(kind, STEP_KINDS)}")
        return None

    def tool_call_step(self, node: Node, keypath: str) -> ToolCallStep | None:
        fields = self.mapping(node, keypath, TOOL_CALL_STEP_KEYS)
        if fields is None:
            return None
        if "name" not in fields and "arguments" not in fields:
            self.problem(node, keypath, "needs 'name' (to open a call) or 'arguments' (to add to one)")
        before = len(self.problems)
        index = self.integer(fields["index"], join(keypath, "index")) if "index" in fields else 0
        name = self.string(fields["name"], join(keypath, "name")) if "name" in fields else None
        call_id = self.string(fields["id"], join(keypath, "id")) if "id" in fields else None
        arguments: str | None = ""
        if "arguments" in fields:
            # Fragments need not be JSON on their own, so only a mapping is serialised.
            arg_node = fields["arguments"]
            if isinstance(arg_node, MappingNode):
                arguments = json.dumps(self.plain(arg_node, join(keypath, "arguments")), ensure_ascii=False)
            else:
                arguments = self.string(arg_node, join(keypath, "arguments"))
        if len(self.problems) > before or index is None:
            return None
        return ToolCallStep(index=index, name=name, arguments=arguments or "", id=call_id)

    def chaos(self, node: Node, keypath: str) -> Chaos:
        """Fault names to the probability of drawing each, per response."""
        fields = self.mapping(node, keypath, FAULTS)
        odds = ((name, self.fraction(value, join(keypath, name))) for name, value in (fields or {}).items())
        return Chaos(tuple(odds))

    def quota(self, node: Node, keypath: str) -> Quota | None:
        """``{rpm: 60, tpm: 40000, per: api_key}``: at least one limit, each a whole number from 1."""
        fields = self.mapping(node, keypath, QUOTA_KEYS)
        if fields is None:
            return None
        if not any(key in fields for key in QUOTA_LIMITS):
            self.problem(node, keypath, "needs 'rpm', 'tpm' or both")
        before = len(self.problems)
        limits = {key: self.integer(fields[key], join(keypath, key)) for key in QUOTA_LIMITS if key in fields}
        for key, limit in limits.items():
            if limit is not None and limit < 1:
                self.problem(fields[key], join(keypath, key), f"expected a whole number of at least 1, got {limit}")
        per = self.choice(fields["per"], join(keypath, "per"), PER) if "per" in fields else "api_key"
        if len(self.problems) > before or not limits or per is None:
            return None
        return Quota(**limits, per=per)

    def attempt(self, node: Node, keypath: str) -> Attempt | None:
        fields = self.mapping(node, keypath, ATTEMPT_KEYS)
        if fields is None:
            return None
        faults = self.faults(fields["faults"], join(keypath, "faults")) if "faults" in fields else ()
        return Attempt(faults=faults)
