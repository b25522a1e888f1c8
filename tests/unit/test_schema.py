"""schema.py: the JSON Schema of a scenario file accepts what the parser
accepts and refuses what it refuses, wherever a schema can say the rule, and
the shipped file is what the generator makes."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from mockllm.errors import ScenarioErrors
from mockllm.faults import FAULTS
from mockllm.parse import parse_text
from mockllm.schema import SHIPPED, render, scenario_schema
from tests.unit import test_fault_parsing, test_hostile_scenarios, test_parse

ROOT = Path(__file__).resolve().parents[2]
BUILTINS = sorted((ROOT / "scenarios").glob("*.yaml"))
VALIDATOR = Draft202012Validator(scenario_schema())


def parser_accepts(text: str) -> bool:
    try:
        parse_text(text, "t.yaml", default_name="t")
    except ScenarioErrors:
        return False
    return True


def schema_verdict(text: str) -> str:
    """``accepted``, ``refused``, or ``unloadable``: YAML no loader turns into JSON data."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):  # ValueError: Python's limit on an int's digits
        return "unloadable"
    return "accepted" if VALIDATOR.is_valid(data) else "refused"


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(scenario_schema())
    assert scenario_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", BUILTINS, ids=[path.stem for path in BUILTINS])
def test_every_builtin_scenario_validates(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [error.message for error in VALIDATOR.iter_errors(data)] == []


def test_the_shipped_file_is_what_the_generator_makes():
    assert SHIPPED.read_text(encoding="utf-8") == render()


def test_the_schema_ships_inside_the_package():
    shipped = resources.files("mockllm") / "scenario.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == scenario_schema()


# -- the parser's corpus of invalid files ----------------------------------------

CORPUS = [
    *((f"parse:{id_}", case[0]) for id_, case in zip(test_parse.ERROR_IDS, test_parse.ERRORS)),
    *((f"lone-surrogate:{i}", case[0]) for i, case in enumerate(test_parse.LONE_SURROGATES)),
    *((f"fault:{id_}", test_fault_parsing.HEAD + case[0])
      for id_, case in zip(test_fault_parsing.ERROR_IDS, test_fault_parsing.ERRORS)),
    *((f"hostile:{case[0]}", case[1]) for case in test_hostile_scenarios.HOSTILE),
]

YAML = "a matter of the YAML text, not of its data: no loader gives a schema anything to check"
INF = "YAML's .inf and .nan: JSON has no such numbers, so JSON Schema cannot speak of them"
SURROGATE = "a lone surrogate: to JSON Schema a string is a string, however a loader decoded its escapes"
RE2 = "whether a pattern compiles in RE2 (format: regex is ECMA-262, and only an annotation)"
LIMIT = "a limit of mockllm counted on the text, its aliases or a computed total, not on one value"
BEYOND_SCHEMA = {
    "parse:infinite-duration": INF,
    "parse:nan-tokens-per-second": INF,
    "parse:bad-regex": RE2,
    "parse:arguments-not-json": "a string holding valid JSON (contentMediaType is only an annotation)",
    "parse:duplicate-key": "a duplicate key: loaded as data, the mapping has one key",
    "parse:python-tag-value": YAML,
    "parse:python-tag-key": YAML,
    "parse:yaml-syntax-error": YAML,
    "parse:yaml-tab-indent": YAML,
    "parse:yaml-tab-between-words": YAML,
    "parse:yaml-comment-glued-to-a-block-scalar": YAML,
    "parse:control-character-on-its-line": YAML,
    # All but the last, whose bad finish_reason the schema refuses.
    **{f"lone-surrogate:{i}": SURROGATE for i in range(len(test_parse.LONE_SURROGATES) - 1)},
    **{f"hostile:{name}": YAML for name in (
        "seed", "after", "index", "prompt_tokens", "status-code", "first_token", "argument-number",
        "deep-description", "deep-arguments", "deep-block-list",
    )},
    "hostile:billion-laughs": LIMIT,
    "hostile:recursive-alias": LIMIT,
    "hostile:too-many-values": LIMIT,
    "hostile:too-big": LIMIT,
    "hostile:too-many-tokens": LIMIT,
    "hostile:heartbeat-flood": "a ratio of two parameters (for / heartbeat)",
    **{f"hostile:{name}": RE2 for name in ("huge-repeat", "lookahead", "backreference", "nested-repeat")},
}


@pytest.mark.parametrize(("text", "beyond"), [(text, BEYOND_SCHEMA.get(id_)) for id_, text in CORPUS],
                         ids=[id_ for id_, _ in CORPUS])
def test_a_file_the_parser_refuses_is_refused_by_the_schema_unless_no_schema_can_say_why(text, beyond):
    assert not parser_accepts(text)
    verdict = schema_verdict(text)
    if beyond is None:
        assert verdict == "refused"
    else:  # kept exact: once the schema refuses one, it leaves this list
        assert verdict in ("accepted", "unloadable"), beyond


def test_every_entry_beyond_the_schema_is_in_the_corpus():
    assert set(BEYOND_SCHEMA) <= {id_ for id_, _ in CORPUS}


# -- the parser's rules in code, written again in the schema: both must agree ----

HEAD = "name: t\nreply: {text: hi}\n"
AGREEMENT = [
    # durations: 250ms, 1.5s, 2m or a number of seconds
    ("duration-ms", HEAD + "timing: {per_token: 250ms}\n", True),
    ("duration-seconds", HEAD + "timing: {per_token: 1.5s}\n", True),
    ("duration-minutes", HEAD + "timing: {per_token: 2m}\n", True),
    ("duration-padded", HEAD + "timing: {per_token: ' 2 m '}\n", True),
    ("duration-leading-dot", HEAD + "timing: {per_token: .5s}\n", True),
    ("duration-trailing-dot", HEAD + "timing: {per_token: 5.s}\n", True),
    ("duration-quoted-number", HEAD + "timing: {per_token: '7'}\n", True),
    ("duration-number", HEAD + "timing: {per_token: 0.25}\n", True),
    ("duration-zero", HEAD + "timing: {per_token: 0}\n", True),
    ("duration-hours", HEAD + "timing: {per_token: 1h}\n", False),
    ("duration-negative", HEAD + "timing: {per_token: -1}\n", False),
    ("duration-negative-text", HEAD + "timing: {per_token: -1s}\n", False),
    ("duration-bool", HEAD + "timing: {per_token: true}\n", False),
    ("duration-empty", HEAD + "timing: {per_token: ''}\n", False),
    ("duration-bare-dot", HEAD + "timing: {per_token: .}\n", False),
    ("duration-null", HEAD + "timing: {per_token: null}\n", False),
    # a fault: a bare name, or a mapping of one name to its parameters or nothing
    ("fault-bare", HEAD + "faults: [drop]\n", True),
    ("fault-null", HEAD + "faults: [{drop: null}]\n", True),
    ("fault-empty", HEAD + "faults: [{drop: {}}]\n", True),
    ("fault-unknown", HEAD + "faults: [explode]\n", False),
    ("fault-two-names", HEAD + "faults: [{drop: {}, bom: {}}]\n", False),
    ("fault-empty-mapping", HEAD + "faults: [{}]\n", False),
    ("fault-params-list", HEAD + "faults: [{drop: [1]}]\n", False),
    ("faults-not-a-list", HEAD + "faults: drop\n", False),
    # triggers: after N or done, at DURATION, before headers; one of them, on triggered faults
    ("after-count", HEAD + "faults: [{drop: {after: 3}}]\n", True),
    ("after-done", HEAD + "faults: [{drop: {after: done}}]\n", True),
    ("after-float", HEAD + "faults: [{drop: {after: 1.5}}]\n", False),
    ("after-quoted", HEAD + "faults: [{drop: {after: '3'}}]\n", False),
    ("at", HEAD + "faults: [{stall: {at: 1s}}]\n", True),
    ("before-headers", HEAD + "faults: [{stall: {before: headers}}]\n", True),
    ("before-on-error_event", HEAD + "faults: [{error_event: {before: headers}}]\n", False),
    ("after-and-at", HEAD + "faults: [{drop: {after: 1, at: 1s}}]\n", False),
    ("at-and-before", HEAD + "faults: [{drop: {at: 1s, before: headers}}]\n", False),
    ("after-on-bom", HEAD + "faults: [{bom: {after: 1}}]\n", False),
    # probability: 0 to 1, on every fault and in chaos
    ("probability", HEAD + "faults: [{bom: {probability: 0.5}}]\n", True),
    ("probability-1", HEAD + "faults: [{bom: {probability: 1}}]\n", True),
    ("probability-negative", HEAD + "faults: [{bom: {probability: -0.1}}]\n", False),
    ("probability-text", HEAD + "faults: [{bom: {probability: '0.5'}}]\n", False),
    ("chaos", HEAD + "chaos: {drop: 0.1, status: 1}\n", True),
    ("chaos-unknown-fault", HEAD + "chaos: {explode: 0.1}\n", False),
    ("chaos-over-1", HEAD + "chaos: {drop: 1.1}\n", False),
    # forever: only where the field allows it
    ("stall-forever", HEAD + "faults: [{stall: {for: forever}}]\n", True),
    ("heartbeat-forever", HEAD + "faults: [{stall: {heartbeat: forever}}]\n", False),
    # statuses and headers
    ("status-599", HEAD + "faults: [{status: {code: 599}}]\n", True),
    ("status-600", HEAD + "faults: [{status: {code: 600}}]\n", False),
    ("status-304", HEAD + "faults: [{content_type: {status: 304}}]\n", False),
    ("header-values", HEAD + "faults: [{status: {headers: {retry-after: 5, x-a: b, x-gone: null}}}]\n", True),
    ("header-tab-in-value", HEAD + "faults: [{status: {headers: {x-a: \"a\\tb\"}}}]\n", True),
    ("header-bool-value", HEAD + "faults: [{status: {headers: {x-a: true}}}]\n", False),
    ("header-name-space", HEAD + "faults: [{status: {headers: {'x a': b}}}]\n", False),
    ("text-param-number", HEAD + "faults: [{status: {message: 404}}]\n", True),
    ("text-param-bool", HEAD + "faults: [{status: {message: true}}]\n", False),
    ("count-at-minimum", HEAD + "faults: [{fragment: {bytes: 1}}]\n", True),
    # names
    ("name", "name: a.b_c:d-1\nreply: {text: hi}\n", True),
    ("name-leading-dash", "name: -a\nreply: {text: hi}\n", False),
    ("name-newline", "name: \"a\\n\"\nreply: {text: hi}\n", False),
    # replies, steps, turns and the rules between their keys
    ("rule-without-reply", "name: t\nmatch: {prompt: x}\n", True),
    ("tool-calls-only", "name: t\nreply: {tool_calls: [{name: f, arguments: {a: 1}}]}\n", True),
    ("tokens-empty", "name: t\nreply: {tokens: []}\n", True),
    ("tokenize-with-text", "name: t\nreply: {text: hi, tokenize: chars}\n", True),
    ("steps", "name: t\nsteps: [start, {text: hi}, {sleep: 1s}, {finish: stop}, usage, done, {close: reset}]\n", True),
    ("step-mappings", "name: t\nsteps:\n  - tool_call: {name: f}\n  - tool_call: {arguments: '{'}\n"
     "  - usage: {prompt_tokens: 3}\n  - error: {message: m}\n  - comment: c\n  - raw: r\n", True),
    ("step-done-with-value", "name: t\nsteps: [{done: 1}]\n", False),
    ("step-usage-null", "name: t\nsteps: [{usage: null}]\n", False),
    ("step-unknown", "name: t\nsteps: [finish]\n", False),
    ("step-tool-call-empty", "name: t\nsteps: [{tool_call: {index: 1}}]\n", False),
    ("steps-and-timing", "name: t\nsteps: [done]\ntiming: {per_token: 1s}\n", False),
    ("response-with-steps", "name: t\nsteps: [done]\nresponse: {status: 503, delay: 1s}\n", True),
    ("response-without-steps", HEAD + "response: {status: 503}\n", False),
    ("turns", "name: t\ntiming: {per_token: 1ms}\nseed: 1\nturns:\n  - reply: {text: a}\n  - steps: [done]\n", True),
    ("turns-empty", "name: t\nturns: []\n", False),
    ("turn-without-reply", "name: t\nturns: [{seed: 1}]\n", False),
    ("turns-and-reply", HEAD + "turns: [{reply: {text: a}}]\n", False),
    ("turns-and-response", "name: t\nresponse: {status: 503}\nturns: [{steps: [done]}]\n", False),
    ("turn-response", "name: t\nturns: [{steps: [done], response: {status: 503}}]\n", True),
    ("attempts", HEAD + "attempts: [{faults: [drop]}, {faults: []}]\n", True),
    ("faults-and-attempts", HEAD + "faults: [bom]\nattempts: [{faults: []}]\n", False),
    ("match", "name: t\nreply: {text: hi}\nmatch: {turn: 2, has_tool_result: true, format: anthropic, "
     "last_role: tool, header: {x-a: b}, tool_offered: f}\n", True),
    ("match-turn-0", HEAD + "match: {turn: 0}\n", False),
    ("match-unknown-format", HEAD + "match: {format: soap}\n", False),
    ("quota", HEAD + "quota: {tpm: 100, per: session}\n", True),
    ("quota-without-limits", HEAD + "quota: {per: session}\n", False),
    ("quota-rpm-0", HEAD + "quota: {rpm: 0}\n", False),
]


@pytest.mark.parametrize(("text", "valid"), [case[1:] for case in AGREEMENT], ids=[case[0] for case in AGREEMENT])
def test_the_parser_and_the_schema_agree_on_each_rule_written_in_code(text, valid):
    assert (parser_accepts(text), schema_verdict(text)) == (valid, "accepted" if valid else "refused")


# -- drift: a fault's fields are the schema of its parameters --------------------


def samples(meta: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Values (as YAML) a parameter of this kind takes, and ones it refuses.
    A new kind of field fails here until it is given samples."""
    kind = meta["kind"]
    if kind == "duration":
        forever = ["forever"] if meta.get("forever") else []
        return ["250ms", "2", *forever], ["5x", "-1", *([] if forever else ["forever"])]
    if kind == "count":
        return [str(meta["minimum"]), str(meta["minimum"] + 5)], [str(meta["minimum"] - 1), "1.5", "many"]
    if kind == "choice":
        return list(meta["options"]), [meta["options"][0] + "x", "[]"]
    if kind == "text":
        return ["hello", "404"], ["[a]", "true", *(['"a\\nb"'] if meta.get("header") else [])]
    if kind == "status":
        return ["200", "503"], ["199", "204", "600", "'500'"]
    if kind == "headers":
        return ["{x-a: b}", "{}"], ["[x-a]", "{x-a: [1]}"]
    raise AssertionError(f"no samples for parameters of kind {kind!r}: add them, and the kind to mockllm/schema.py")


PARAMETERS = [(name, f) for name, cls in FAULTS.items() for f in dataclasses.fields(cls)]


@pytest.mark.parametrize(("name", "field"), PARAMETERS, ids=[f"{name}.{f.name}" for name, f in PARAMETERS])
def test_every_fault_parameter_is_in_the_schema_taking_what_the_parser_takes(name, field):
    key = field.metadata.get("key", field.name)
    parameters = scenario_schema()["$defs"][f"fault.{name}"]["properties"]
    assert parameters[key]["description"] == field.metadata["doc"]
    valid, invalid = samples(dict(field.metadata))
    for value, accepted in [*((v, True) for v in valid), *((v, False) for v in invalid)]:
        text = f"{HEAD}faults:\n  - {name}: {{{key}: {value}}}\n"
        assert (parser_accepts(text), schema_verdict(text)) == (accepted, "accepted" if accepted else "refused"), value


def test_every_fault_is_in_the_schema_by_name():
    schema = scenario_schema()
    assert schema["$defs"]["fault"]["anyOf"][0]["enum"] == list(FAULTS)
    assert {key.removeprefix("fault.") for key in schema["$defs"] if key.startswith("fault.")} == set(FAULTS)
