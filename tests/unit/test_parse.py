"""parse.py (and yamlsource.py beneath it): YAML text -> a frozen Scenario, or
every problem as ``path:line: keypath: message``."""

from __future__ import annotations

import dataclasses
import gc
import textwrap

import pytest
import yaml

from mockllm.errors import ScenarioError, ScenarioErrors
from mockllm.parse import parse_duration, parse_file, parse_text
from mockllm.patterns import compile_pattern
from mockllm.scenario import Attempt, Match, Reply, Scenario, Timing, ToolCall

PATH = "scenarios/bad.yaml"

FULL = """\
description: Greets, then asks for the weather and the time.
match:
  prompt: "(?i)weather"
reply:
  text: "Hi there!"
  tool_calls:
    - {name: get_weather, arguments: '{"city": "Paris"}'}
    - name: get_time
      id: call_fixed
      arguments: {zone: UTC, precise: true, city: 東京}
timing:
  first_token: 250ms
  per_token: 1.5s
  jitter: 10ms
seed: 42
attempts:
  - faults: []
  - faults: []
"""


def parse(text: str, default_name: str | None = None) -> Scenario:
    return parse_text(textwrap.dedent(text), PATH, default_name)


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioErrors) as caught:
        parse(text, default_name="bad")
    assert all(isinstance(p, ScenarioError) for p in caught.value.problems)
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    return [str(p) for p in caught.value.problems]


# -- valid scenarios ---------------------------------------------------------


def test_full_scenario_file_becomes_the_expected_frozen_value(tmp_path):
    path = tmp_path / "greeter.yaml"
    path.write_text(FULL, encoding="utf-8")

    assert parse_file(path) == Scenario(
        name="greeter",
        description="Greets, then asks for the weather and the time.",
        match=Match(prompt=compile_pattern("(?i)weather")),
        reply=Reply(
            tokens=("Hi", " there!"),
            tool_calls=(
                ToolCall(name="get_weather", arguments='{"city": "Paris"}'),
                ToolCall(
                    name="get_time",
                    arguments='{"zone": "UTC", "precise": true, "city": "東京"}',
                    id="call_fixed",
                ),
            ),
            finish_reason="tool_calls",
        ),
        timing=Timing(first_token=0.25, per_token=1.5, jitter=0.01),
        seed=42,
        faults=(),
        attempts=(Attempt(faults=()), Attempt(faults=())),
        source=str(path),
        line=1,
    )


def test_name_key_overrides_the_file_stem_and_sets_the_line(tmp_path):
    path = tmp_path / "stem.yaml"
    path.write_text("# a comment\nname: chosen\nreply: {text: hi}\n", encoding="utf-8")
    scenario = parse_file(path)
    assert (scenario.name, scenario.line) == ("chosen", 2)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("250ms", 0.25), ("1.5s", 1.5), ("2m", 120.0), ("3", 3.0), ("0.5", 0.5), ("0", 0.0), ("'7'", 7.0)],
    ids=["milliseconds", "seconds", "minutes", "whole-number", "fraction", "zero", "quoted-number"],
)
def test_durations_become_float_seconds(written, seconds):
    scenario = parse(f"name: x\nreply: {{text: hi}}\ntiming: {{first_token: {written}}}\n")
    assert scenario.timing.first_token == seconds
    assert type(scenario.timing.first_token) is float


@pytest.mark.parametrize(
    ("value", "expected"),
    [("250ms", 0.25), (" 2m ", 120.0), (".5s", 0.5), (3, 3.0), (True, None), ("-1s", None),
     (-1, None), (float("inf"), None), (float("nan"), None), (10**400, None), ("5x", None), (None, None)],
    ids=["ms", "padded", "leading-dot", "int", "bool", "negative-text", "negative-number", "inf", "nan",
         "too-big-for-float", "unknown-unit", "none"],
)
def test_parse_duration_accepts_only_finite_non_negative_durations(value, expected):
    assert parse_duration(value) == expected


def test_tokens_per_second_becomes_per_token():
    scenario = parse("name: x\nreply: {text: hi}\ntiming: {tokens_per_second: 25}\n")
    assert scenario.timing == Timing(per_token=0.04)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("{text: a b}", Reply(tokens=("a", " b"), finish_reason="stop")),
        ("{text: a b, tokenize: chars}", Reply(tokens=("a", " ", "b"))),
        ("{tokens: [Hel, lo]}", Reply(tokens=("Hel", "lo"))),
        ("{text: ''}", Reply()),
        ("{tool_calls: [{name: f}]}", Reply(tool_calls=(ToolCall("f", "{}"),), finish_reason="tool_calls")),
        ("{text: a, finish_reason: length}", Reply(tokens=("a",), finish_reason="length")),
        (
            "{tool_calls: [{name: f, arguments: '[1, 2]'}], finish_reason: stop}",
            Reply(tool_calls=(ToolCall("f", "[1, 2]"),), finish_reason="stop"),
        ),
    ],
    ids=[
        "text-split-into-words-finish-stop",
        "tokenize-chars",
        "exact-tokens",
        "empty-text",
        "tool-call-finish-tool_calls-arguments-default-to-empty-object",
        "explicit-finish-reason",
        "explicit-finish-reason-overrides-tool_calls",
    ],
)
def test_reply_forms_and_default_finish_reasons(reply, expected):
    assert parse(f"name: x\nreply: {reply}\n").reply == expected


def test_defaults_when_only_a_reply_is_given():
    scenario = parse("reply: {text: hi}\n", default_name="stem")
    assert scenario == Scenario(name="stem", reply=Reply(tokens=("hi",)), source=PATH, line=1)
    assert scenario.timing == Timing(0.0, 0.0, 0.0)
    assert (scenario.match, scenario.seed, scenario.description) == (None, None, "")


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "other"), ("reply", None), ("timing", None), ("seed", 1), ("faults", ())],
    ids=["name", "reply", "timing", "seed", "faults"],
)
def test_scenario_is_frozen(field, value):
    scenario = parse(FULL, default_name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(scenario, field, value)


@pytest.mark.parametrize(
    ("obj", "field"),
    [("reply", "tokens"), ("reply", "finish_reason"), ("timing", "per_token")],
    ids=["reply-tokens", "reply-finish", "timing-per-token"],
)
def test_nested_values_are_frozen(obj, field):
    scenario = parse(FULL, default_name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(getattr(scenario, obj), field, None)


def test_tool_calls_are_frozen_and_held_in_a_tuple():
    scenario = parse(FULL, default_name="x")
    assert isinstance(scenario.reply.tool_calls, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.reply.tool_calls[0].name = "other"


# -- problems ------------------------------------------------------------------

ERRORS = [
    (
        "name: x\nreplly:\n  text: hi\n",
        [f"{PATH}:2: unknown key 'replly'; did you mean 'reply'?"],
    ),
    (
        "name: x\nreply:\n  tokens: [Hi]\n  txt: there\n",
        [f"{PATH}:4: reply: unknown key 'txt'; did you mean 'text'?"],
    ),
    (
        "name: x\nreply: {text: hi}\nsurprise: 1\n",
        [f"{PATH}:3: unknown key 'surprise' (expected one of: name, description, match, reply, "
         "steps, timing, seed, faults, attempts, chaos, turns, quota, response)"],
    ),
    ("name: x\nreply: {text: hi}\nseed: abc\n", [f"{PATH}:3: seed: expected a whole number, got 'abc'"]),
    ("name: x\nreply: [1]\n", [f"{PATH}:2: reply: expected a mapping, got a list"]),
    ("name: x\nreply:\n", [f"{PATH}:2: reply: expected a mapping, got nothing (null)"]),
    ("name: x\nreply:\n  text: 12\n", [f"{PATH}:3: reply.text: expected a string, got '12'"]),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  per_token: 5x\n",
        [f"{PATH}:4: timing.per_token: expected a duration like 250ms, 1.5s or 2m, got '5x'"],
    ),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  first_token: -250ms\n",
        [f"{PATH}:4: timing.first_token: expected a duration like 250ms, 1.5s or 2m, got '-250ms'"],
    ),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  jitter: -1\n",
        [f"{PATH}:4: timing.jitter: expected a duration like 250ms, 1.5s or 2m, got '-1'"],
    ),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  first_token: .inf\n",
        [f"{PATH}:4: timing.first_token: expected a duration like 250ms, 1.5s or 2m, got '.inf'"],
    ),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  tokens_per_second: 0\n",
        [f"{PATH}:4: timing.tokens_per_second: expected a positive number, got '0'"],
    ),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  tokens_per_second: .nan\n",
        [f"{PATH}:4: timing.tokens_per_second: expected a positive number, got '.nan'"],
    ),
    (
        "name: x\nmatch:\n  prompt: '(unclosed'\nreply: {text: hi}\n",
        [f"{PATH}:3: match.prompt: invalid regular expression: missing ): (unclosed; see https://github.com/google/re2/wiki/Syntax"],
    ),
    (
        "name: x\nreply:\n  text: hi\n  finish_reason: stpo\n",
        [f"{PATH}:4: reply.finish_reason: unknown value 'stpo'; did you mean 'stop'?"],
    ),
    (
        "name: x\nreply:\n  text: hi\n  tokens: [a]\n",
        [f"{PATH}:4: reply: give either 'text' or 'tokens', not both"],
    ),
    (
        "name: x\nreply:\n  tokens: [a]\n  tokenize: chars\n",
        [f"{PATH}:4: reply.tokenize: only applies to 'text'"],
    ),
    (
        "name: x\nreply:\n  text: hi\n  tokenize: letters\n",
        [f"{PATH}:4: reply.tokenize: unknown value 'letters' (expected one of: words, chars)"],
    ),
    ("name: x\nreply: {}\n", [f"{PATH}:2: reply: needs 'text', 'tokens' or 'tool_calls'"]),
    (
        "name: x\nreply: {text: hi}\ntiming:\n  per_token: 1s\n  tokens_per_second: 3\n",
        [f"{PATH}:5: timing: give 'per_token' or 'tokens_per_second', not both"],
    ),
    (
        "name: x\nreply:\n  tool_calls:\n    - arguments: '{}'\n",
        [f"{PATH}:4: reply.tool_calls[0]: missing key 'name'"],
    ),
    (
        "name: x\nreply:\n  tool_calls:\n    - name: f\n      arguments: '{oops'\n",
        [f"{PATH}:5: reply.tool_calls[0].arguments: not valid JSON: "
         "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"],
    ),
    (
        "name: a/b\nreply: {text: hi}\n",
        [f"{PATH}:1: name: 'a/b' is not a valid name (letters, digits, '.', '_', ':', '-')"],
    ),
    (
        'name: "a\\n"\nreply: {text: hi}\n',  # a name travels in the X-Mockllm-Scenario header
        [f"{PATH}:1: name: 'a\\n' is not a valid name (letters, digits, '.', '_', ':', '-')"],
    ),
    (
        "name: x\nresponse: {status: 503}\nturns:\n  - steps: [done]\n",
        [f"{PATH}:2: response: belongs in each turn when 'turns' is given"],
    ),
    (
        "name: x\nreply: {text: hi}\nattempts:\n  - fault: []\n",
        [f"{PATH}:4: attempts[0]: unknown key 'fault'; did you mean 'faults'?"],
    ),
    ("name: x\nreply: {text: hi}\nname: y\n", [f"{PATH}:3: duplicate key 'name'"]),
    (
        'name: x\nreply: !!python/object/apply:os.system ["echo"]\n',
        [f"{PATH}:2: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"],
    ),
    (
        "name: x\n!!python/name:os.system reply: {text: hi}\n",
        [f"{PATH}:2: unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system'"],
    ),
    ("name: x\nreply:\n  text: hi: there\n", [f"{PATH}:3: invalid YAML: mapping values are not allowed here"]),
    (
        "name: x\nreply:\n\ttext: hi\n",
        [f"{PATH}:3: invalid YAML: found character '\\t' that cannot start any token"],
    ),
    # libyaml accepts these two (mockllm parses with it where PyYAML has it):
    # a file must load, or fail, the same with it or without.
    (
        "name: x\nreply:\n  text: hi\ttoo\n",
        [f"{PATH}:3: invalid YAML: found character '\\t' that cannot start any token"],
    ),
    (
        "name: x\ndescription: >-#\n  hi\nreply: {text: hi}\n",
        [f"{PATH}:2: invalid YAML: expected chomping or indentation indicators, but found '#'"],
    ),
    (
        'name: x\nreply:\n  text: "a\x07b"\n',
        [f"{PATH}:3: invalid YAML: unacceptable character #x0007: special characters are not allowed"],
    ),
    ("", [f"{PATH}:1: the file holds no scenario"]),
    ("# only a comment\n", [f"{PATH}:1: the file holds no scenario"]),
    ("just text\n", [f"{PATH}:1: expected a mapping, got 'just text'"]),
]
ERROR_IDS = [
    "unknown-top-level-key-did-you-mean",
    "unknown-nested-key-did-you-mean",
    "unknown-key-lists-the-valid-keys",
    "seed-not-a-number",
    "reply-is-a-list",
    "reply-is-null",
    "text-not-a-string",
    "bad-duration-unit",
    "negative-duration-text",
    "negative-duration-number",
    "infinite-duration",
    "zero-tokens-per-second",
    "nan-tokens-per-second",
    "bad-regex",
    "bad-finish-reason-did-you-mean",
    "text-and-tokens",
    "tokenize-without-text",
    "unknown-tokenizer",
    "empty-reply",
    "per-token-and-tokens-per-second",
    "tool-call-without-name",
    "arguments-not-json",
    "invalid-name",
    "name-ending-in-a-newline",
    "response-beside-turns",
    "unknown-attempt-key",
    "duplicate-key",
    "python-tag-value",
    "python-tag-key",
    "yaml-syntax-error",
    "yaml-tab-indent",
    "yaml-tab-between-words",
    "yaml-comment-glued-to-a-block-scalar",
    "control-character-on-its-line",
    "empty-file",
    "comment-only-file",
    "not-a-mapping",
]


@pytest.mark.parametrize(("text", "expected"), ERRORS, ids=ERROR_IDS)
def test_each_problem_is_reported_with_path_line_and_keypath(text, expected):
    assert problems(text) == expected


# YAML's "\ud83c" escape gives a lone surrogate: no UTF-8 stream can carry it,
# so it would fail every response with a 500. It is refused when the file loads.
LONE = "contains a lone surrogate \\ud83c, which is not valid UTF-8"
LONE_SURROGATES = [
    ('name: x\nreply:\n  text: "a \\ud83c b"\n', [f"{PATH}:3: reply.text: {LONE}"]),
    (
        'name: x\nreply:\n  tokens: [a, "\\udf89"]\n',
        [f"{PATH}:3: reply.tokens[1]: contains a lone surrogate \\udf89, which is not valid UTF-8"],
    ),
    (
        'name: x\nreply:\n  text: "\\udf89\\ud83c"\n',  # the wrong order: not a pair
        [f"{PATH}:3: reply.text: contains a lone surrogate \\udf89, which is not valid UTF-8"],
    ),
    ('name: x\ndescription: "\\ud83c"\nreply: {text: hi}\n', [f"{PATH}:2: description: {LONE}"]),
    ('name: x\nmatch:\n  prompt: "\\ud83c"\nreply: {text: hi}\n', [f"{PATH}:3: match.prompt: {LONE}"]),
    ('name: x\nsteps:\n  - text: hi\n  - raw: "\\ud83c"\n', [f"{PATH}:4: steps[1].raw: {LONE}"]),
    ('name: x\nreply:\n  tool_calls:\n    - name: "f\\ud83c"\n', [f"{PATH}:4: reply.tool_calls[0].name: {LONE}"]),
    (
        'name: x\nreply:\n  tool_calls:\n    - name: f\n      arguments: {a: "\\ud83c"}\n',
        [f"{PATH}:5: reply.tool_calls[0].arguments.a: {LONE}"],
    ),
    (
        'name: x\nreply: {text: hi}\nfaults:\n  - error_event: {message: "\\ud83c"}\n',
        [f"{PATH}:4: faults[0].error_event.message: {LONE}"],
    ),
    (
        'name: x\nreply: {text: hi}\nfaults:\n  - status: {code: 429, headers: {retry-after: "\\ud83c"}}\n',
        [f"{PATH}:4: faults[0].status.headers.retry-after: {LONE}"],
    ),
    (
        'name: x\nreply:\n  text: "\\ud83c"\n  finish_reason: stpo\n',  # reported with the other problems
        [f"{PATH}:3: reply.text: {LONE}", f"{PATH}:4: reply.finish_reason: unknown value 'stpo'; did you mean 'stop'?"],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    LONE_SURROGATES,
    ids=[
        "text", "token", "reversed-pair", "description", "match-prompt", "raw-step", "tool-name",
        "arguments-mapping", "fault-text", "fault-header", "with-other-problems",
    ],
)
def test_a_lone_surrogate_is_refused_with_path_line_and_keypath(text, expected):
    assert problems(text) == expected


def test_a_surrogate_pair_written_the_json_way_is_its_one_character():
    scenario = parse(
        'name: x\nreply:\n  text: "\\ud83c\\udf89 ok"\n  tool_calls: [{name: f, arguments: {a: "\\ud83c\\udf89"}}]\n'
    )
    assert scenario.reply.tokens == ("\U0001f389", " ok")
    assert scenario.reply.tool_calls[0].arguments == '{"a": "\U0001f389"}'
    "".join(scenario.reply.tokens).encode("utf-8")  # no lone surrogate left to fail the response


# The fault catalogue grows, so only the start of these messages is fixed:
# what follows is a "did you mean" or the list of known faults.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nreply: {text: hi}\nfaults: [explode]\n", f"{PATH}:3: faults[0]: unknown fault 'explode'"),
        (
            "name: x\nreply: {text: hi}\nfaults:\n  - implode: {after: 2}\n",
            f"{PATH}:4: faults[0]: unknown fault 'implode'",
        ),
        (
            "name: x\nreply: {text: hi}\nattempts:\n  - faults: []\n  - faults:\n      - explode\n",
            f"{PATH}:6: attempts[1].faults[0]: unknown fault 'explode'",
        ),
    ],
    ids=["bare-name", "name-with-parameters", "inside-an-attempt"],
)
def test_unknown_fault_is_reported_at_its_line(text, expected):
    [problem] = problems(text)
    assert problem.startswith(expected)


def test_a_file_with_several_problems_reports_all_of_them_in_line_order():
    text = """\
        name: x
        replly: {text: hi}
        seed: abc
        timing:
          per_token: 5x
          jitter: 1q
        faults: [explode]
        """
    found = problems(text)
    assert len(found) == 5
    assert [int(line.split(":")[1]) for line in found] == [2, 3, 5, 6, 7]


def test_a_name_is_required_without_a_file_stem():
    with pytest.raises(ScenarioErrors) as caught:
        parse_text("reply: {text: hi}\n", PATH)
    assert [str(p) for p in caught.value.problems] == [
        f"{PATH}:1: name: missing (a scenario added without a file needs a name)"
    ]


def test_a_file_that_is_not_utf8_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("reply: {text: café}\n".encode("latin-1"))
    with pytest.raises(ScenarioErrors) as caught:
        parse_file(path)
    assert str(caught.value) == f"{path}:1: not UTF-8 text: invalid continuation byte"


def test_a_scenario_without_reply_or_steps_is_a_proxy_rule_and_says_so():
    scenario = parse("name: x\nmatch: {prompt: hi}\nfaults: [{drop: {after: 3}}]\n")
    assert scenario.rule and scenario.faults[0].describe() == "drop(after=3)"
    assert [str(w) for w in scenario.warnings] == [
        f"{PATH}:1: warning: reply: none (and no 'steps'): a rule for `mockllm proxy`, whose upstream answers; "
        "`mockllm serve` answers it with an error"
    ]


def test_a_recorded_response_needs_steps_and_a_status_with_a_body():
    found = problems("name: x\nresponse: {status: 204, headers: {a: b}}\nreply: {text: hi}\n")
    assert found == [
        f"{PATH}:2: response: needs 'steps': the body that goes out after this status and headers",
        f"{PATH}:2: response.status: a 204 response has no body, but this fault sends one, which a client then "
        "misreads as the next response",
    ]


def test_a_format_rule_names_a_format_of_the_table():
    assert problems("name: x\nmatch: {format: openia}\nreply: {text: hi}\n") == [
        f"{PATH}:2: match.format: unknown value 'openia'; did you mean 'openai'?"]


def test_parsing_keeps_nothing_of_the_yaml_once_the_scenario_is_built():
    """A server parses on every reload and every scenario uploaded: what the
    YAML was composed into must go when the scenario is built, or a long-lived
    server grows by every file it ever read."""
    def yaml_nodes() -> int:
        gc.collect()
        return sum(isinstance(o, yaml.Node) for o in gc.get_objects())

    before = yaml_nodes()
    scenarios = [parse_text(FULL, PATH, "weather") for _ in range(3)]
    assert all(s.reply.text == "Hi there!" for s in scenarios)
    assert yaml_nodes() == before
