"""The JSON Schema (draft 2020-12) of a scenario file, generated from the
parser's own definitions, for editors to check a file as it is typed.

    parse.py's key tuples ────┐
    FAULTS, fields' metadata ─┼─▶ scenario_schema() ─▶ render() ─▶ scenario.schema.json
    the rules written below ──┘

Which keys a mapping takes is never restated: each comes from the tuple the
parser loops over, and a key with no schema here fails generation. What the
parser checks in code (a duration's spelling, a fault as a bare name or a
one-key mapping, ``after: done``) is written once below, and
tests/unit/test_schema.py checks each rule against the parser.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from itertools import permutations
from pathlib import Path
from typing import Any

from . import __version__, parse, tokens
from .dialects import DIALECTS
from .faults import FAULTS, Fault
from .limits import MAX_FAULTS
from .quota import PER
from .scenario import FINISH_REASONS

__all__ = ["SHIPPED", "render", "scenario_schema"]

Schema = dict[str, Any]

SHIPPED = Path(__file__).with_name("scenario.schema.json")
ID = "urn:mockllm:scenario"

# The parser's rules as patterns (ECMA-262 regexes, as JSON Schema has them):
# ``reader.parse_duration``'s text form, and the characters a header name,
# a header value and a scenario's name may not hold. A rule on every character
# is "matches no character outside the set", because ``$`` also matches before
# a final newline in Python's validators.
DURATION_TEXT = r"^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m)?\s*$"
NOT_IN_HEADER_NAME = r"[^!#$%&'*+.^_`|~0-9A-Za-z-]"  # RFC 9110 5.6.2: a token
IN_NO_HEADER_VALUE = r"[\x00-\x08\x0a-\x1f\x7f]"  # controls other than tab end or corrupt the head
NOT_IN_NAME = r"[^A-Za-z0-9._:-]"
NAME_START = r"^[A-Za-z0-9]"
HEADER_VALUE: Schema = {"not": {"type": "string", "pattern": IN_NO_HEADER_VALUE}}

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def mapping(keys: Iterable[str], values: Mapping[str, Schema], *rules: Schema, **extra: Any) -> Schema:
    """An object taking exactly the parser's ``keys``, each as ``values`` says;
    ``rules``: what must hold among them."""
    schema: Schema = {"type": "object", "properties": {key: values[key] for key in keys},
                      "additionalProperties": False, **extra}
    if rules:
        schema["allOf"] = list(rules)
    return schema


def exclusive(*groups: tuple[str, ...]) -> Schema:
    """The parser's "give either 'a' or 'b', not both", for each group: with
    one key of a group given, the others are absent. (Not as ``not: {anyOf:
    ...}``, for which a validator quotes the whole file in every message.)"""
    absent: dict[str, Schema] = {}
    for group in groups:
        for key, other in permutations(group, 2):
            absent.setdefault(key, {"properties": {}})["properties"][other] = False
    return {"dependentSchemas": absent}


def needs_one(*keys: str) -> Schema:
    """The parser's "needs 'a' or 'b'"."""
    return {"anyOf": [{"required": [key]} for key in keys]}


def one_key(values: Mapping[str, Schema]) -> Schema:
    """``{name: value}``: a mapping of one key, as a fault or a step is written."""
    return {"type": "object", "properties": dict(values), "additionalProperties": False,
            "minProperties": 1, "maxProperties": 1}


def enum(options: Iterable[str], description: str | None = None) -> Schema:
    schema: Schema = {"enum": list(options)}
    if description:
        schema["description"] = description
    return schema


def described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description} if description else schema


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


# -- faults: each one's parameters are its dataclass fields ------------------

# A field helper of faults.base (its metadata "kind") -> the schema of its values.
PARAMETER_KINDS: dict[str, Callable[[Mapping[str, Any]], Schema]] = {
    "duration": lambda meta: {"anyOf": [ref("duration"), {"const": "forever"}]} if meta.get("forever")
    else ref("duration"),
    "count": lambda meta: {"type": "integer", "minimum": meta["minimum"]},
    "choice": lambda meta: enum(meta["options"]),
    # A text parameter takes a number as written (a status message "404").
    "text": lambda meta: {"type": ["string", "number"], **(HEADER_VALUE if meta.get("header") else {})},
    "status": lambda meta: ref("status"),
    "headers": lambda meta: ref("headers"),
}

TRIGGERS: dict[str, Schema] = {
    "after": {"anyOf": [{"type": "integer", "minimum": 0}, {"const": "done"}],
              "description": "act after this many content tokens, or after the stream's end (done)"},
    "at": described(ref("duration"), "act this long after the headers"),
    "before": enum(("headers",), "act before the response's headers"),
}


def parameter(field: dataclasses.Field[Any]) -> Schema:
    meta = field.metadata
    schema: Schema = described(PARAMETER_KINDS[meta["kind"]](meta), meta["doc"])
    if isinstance(field.default, (str, int, float)):
        schema["default"] = field.default
    return schema


def fault_parameters(cls: type[Fault]) -> Schema:
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    values = {key: parameter(f) for key, f in fields.items()}
    values["probability"] = described(ref("probability"), "the chance that the fault acts on a response")
    triggers = [key for key in parse.TRIGGER_KEYS if cls.triggered and (key != "before" or cls.can_precede_headers)]
    values.update((key, TRIGGERS[key]) for key in triggers)
    rules = [exclusive(tuple(triggers))] if len(triggers) > 1 else []
    required = [key for key, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return mapping(values, values, *rules, description=summary(cls), **({"required": required} if required else {}))


def summary(cls: type) -> str:
    """A class docstring's first paragraph, on one line."""
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].split())


def fault() -> Schema:
    return described({"anyOf": [
        enum(FAULTS),
        one_key({name: {"anyOf": [{"type": "null"}, ref(f"fault.{name}")]} for name in FAULTS}),
    ]}, "a fault name, or {name: {parameters}}")


# -- a reply, its steps, and the rest of an answer ---------------------------

def step() -> Schema:
    values = {
        "text": described(STRING, "a text delta"),
        "comment": described(STRING, "an SSE comment line"),
        "raw": described(STRING, "bytes sent as written"),
        "sleep": described(ref("duration"), "a pause"),
        "finish": enum(FINISH_REASONS, "the finish reason"),
        "close": enum(parse.CLOSE_MODES, "end the connection: reset (RST) or close (FIN)"),
        "tool_call": mapping(parse.TOOL_CALL_STEP_KEYS, {
            "index": INTEGER, "name": STRING, "id": STRING,
            "arguments": {"type": ["string", "object"], "description": "a fragment of the arguments' JSON text"},
        }, needs_one("name", "arguments")),
        "usage": mapping(parse.USAGE_KEYS, {key: INTEGER for key in parse.USAGE_KEYS}),
        "error": mapping(parse.ERROR_KEYS, {key: STRING for key in parse.ERROR_KEYS}),
    }
    if set(values) | set(parse.BARE_STEPS) != set(parse.STEP_KINDS):
        raise ValueError(f"step kinds without a schema: {set(parse.STEP_KINDS) - set(values) - set(parse.BARE_STEPS)}")
    return described({"anyOf": [enum(parse.BARE_STEPS), one_key(values)]}, "a step like '- text: Hello' or '- done'")


def reply() -> Schema:
    tool_call = mapping(parse.TOOL_CALL_KEYS, {
        "name": STRING, "id": STRING,
        "arguments": {"type": ["string", "object"], "description": "JSON text, or a mapping written as YAML"},
    }, required=["name"])
    return mapping(parse.REPLY_KEYS, {
        "text": described(STRING, "the reply, split into tokens as 'tokenize' says"),
        "tokenize": enum(tokens.TOKENIZERS, "how 'text' is split (default: words)"),
        "tokens": described(array(STRING), "the reply's tokens, exactly"),
        "finish_reason": enum(FINISH_REASONS),
        "tool_calls": array(tool_call),
    }, exclusive(("text", "tokens")), needs_one("text", "tokens", "tool_calls"),
        dependentRequired={"tokenize": ["text"]})


def answer() -> dict[str, Schema]:
    """What a scenario or one of its turns answers with: TURN_KEYS' values."""
    return {
        "reply": ref("reply"),
        "steps": described(array(ref("step")), "a hand-written script, in place of 'reply'"),
        "timing": ref("timing"),
        "seed": described(INTEGER, "seeds the response's randomness (jitter, probabilities)"),
        "faults": described(ref("faults"), "faults of every attempt"),
        "attempts": described(array(mapping(parse.ATTEMPT_KEYS, {"faults": ref("faults")})),
                              "faults per attempt; the last one repeats"),
        "chaos": mapping(FAULTS, {name: ref("probability") for name in FAULTS},
                         description="fault names to the chance of drawing each, per response"),
        "response": ref("response"),
    }


# The parser's rules between an answer's keys (turns or not).
ANSWER_RULES = exclusive(("reply", "steps"), ("steps", "timing"), ("faults", "attempts"))


def match() -> Schema:
    values: dict[str, Schema] = {
        "turn": {"type": "integer", "minimum": 1, "description": "the conversation's turn, from 1"},
        "has_tool_result": {"type": "boolean"},
        "format": enum(DIALECTS, "the wire format the request came in"),
        "last_role": enum(parse.LAST_ROLES, "the role of the request's last message"),
    }
    values.update((key, described(STRING, "an RE2 regular expression, searched for")) for key in parse.MATCH_REGEXES)
    values.update((key, described(STRING, "a tool's name")) for key in parse.MATCH_NAMES)
    values.update((key, {"type": "object", "additionalProperties": STRING, "description": "names to RE2 patterns"})
                  for key in parse.MATCH_PATTERN_MAPS)
    return mapping(parse.MATCH_KEYS, values, description="which requests the scenario answers")


def scalars() -> dict[str, Schema]:
    """The shared value shapes: durations, probabilities, statuses, headers."""
    return {
        "duration": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_TEXT}],
                     "description": "seconds, or a duration like 250ms, 1.5s or 2m"},
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "status": {"type": "integer", "minimum": 200, "maximum": 599, "not": {"enum": [204, 304]},
                   "description": "an HTTP status sent with a body: 200 to 599, but not 204 or 304"},
        "headers": {"type": "object", "propertyNames": {"minLength": 1, "not": {"pattern": NOT_IN_HEADER_NAME}},
                    "additionalProperties": {"type": ["string", "number", "null"], **HEADER_VALUE},
                    "description": "header names to values; null removes a header sent by default"},
    }


def scenario_schema() -> Schema:
    """The whole schema, as ``mockllm schema`` prints it."""
    answers = answer()
    scenario = {
        "name": {"type": "string", "pattern": NAME_START, "not": {"pattern": NOT_IN_NAME},
                 "description": "letters, digits, '.', '_', ':' and '-' (default: the file's name)"},
        "description": STRING,
        "match": ref("match"),
        "quota": ref("quota"),
        "turns": described(array(ref("turn"), minItems=1), "a conversation: turn N answers the Nth request"),
        **answers,
    }
    defs: dict[str, Schema] = {
        **scalars(),
        "match": match(),
        "reply": reply(),
        "step": step(),
        "timing": mapping(parse.TIMING_KEYS, {
            **{key: ref("duration") for key in parse.TIMING_DURATIONS},
            "tokens_per_second": {"type": "number", "exclusiveMinimum": 0},
        }, exclusive(("per_token", "tokens_per_second"))),
        "response": mapping(parse.RESPONSE_KEYS, {"status": ref("status"), "headers": ref("headers"),
                                                 "delay": ref("duration")},
                            description="the status line and headers sent before 'steps'"),
        "quota": mapping(parse.QUOTA_KEYS, {**{key: {"type": "integer", "minimum": 1} for key in parse.QUOTA_LIMITS},
                                            "per": enum(PER)}, needs_one(*parse.QUOTA_LIMITS)),
        "turn": mapping(parse.TURN_KEYS, answers, ANSWER_RULES, needs_one("reply", "steps"),
                        dependentRequired={"response": ["steps"]}),
        "faults": array(ref("fault"), maxItems=MAX_FAULTS),
        "fault": fault(),
        **{f"fault.{name}": fault_parameters(cls) for name, cls in FAULTS.items()},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID,
        "$comment": f"Generated by mockllm {__version__} (`mockllm schema`); do not edit by hand.",
        "title": "mockllm scenario",
        "version": __version__,
        **mapping(parse.SCENARIO_KEYS, scenario, ANSWER_RULES,
                  description="a scenario: which requests it answers, with what, and how it breaks",
                  dependentRequired={"response": ["steps"]},
                  dependentSchemas={"turns": {"properties": {key: False for key in parse.TURN_ONLY_KEYS}}}),
        "$defs": defs,
    }


def render() -> str:
    """The schema as JSON text: sorted, indented, ending in a newline."""
    return json.dumps(scenario_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
