"""Hostile or absurd scenario text: each is a located problem (``path:line:
message``), never a traceback, a hang or a swallowed error."""

from __future__ import annotations

import pytest

from mockllm import limits
from mockllm.errors import ScenarioErrors
from mockllm.parse import parse_text

PATH = "scenarios/hostile.yaml"
HUGE = "9" * 5000
DEEP = 1000


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(text, PATH, default_name="hostile")
    assert all(p.line for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


def laughs(levels: int = 9) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        prev, name = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    body = "\n".join("        " + line for line in lines)
    return f"reply:\n  tool_calls:\n    - name: f\n      arguments:\n{body}\n"


HOSTILE = [
    # Integers Python refuses to read (over 4300 digits), wherever a number goes.
    ("seed", f"reply: {{text: hi}}\nseed: {HUGE}\n", 2, "seed: a whole number of 5000 digits is too long"),
    ("after", f"reply: {{text: hi}}\nfaults:\n  - drop: {{after: {HUGE}}}\n", 3, "faults[0].drop.after: a whole number of 5000 digits"),
    ("index", f"steps:\n  - tool_call: {{index: {HUGE}, name: f}}\n", 2, "steps[0].tool_call.index: a whole number of 5000 digits"),
    ("prompt_tokens", f"steps:\n  - usage: {{prompt_tokens: {HUGE}}}\n", 2, "steps[0].usage.prompt_tokens: a whole number of 5000"),
    ("status-code", f"reply: {{text: hi}}\nfaults:\n  - status: {{code: {HUGE}}}\n", 3, "faults[0].status.code: a whole number of 5000"),
    ("first_token", f"reply: {{text: hi}}\ntiming: {{first_token: {HUGE}}}\n", 2, "timing.first_token: a whole number of 5000"),
    ("argument-number", f"reply:\n  tool_calls:\n    - name: f\n      arguments: {{n: {HUGE}}}\n", 4, "reply.tool_calls[0].arguments.n: a whole number of 5000"),
    # Nesting deep enough to exhaust Python's recursion.
    ("deep-description", "reply: {text: hi}\ndescription: " + "[" * DEEP + "]" * DEEP + "\n", 2, f"nested more than {limits.MAX_DEPTH} deep"),
    ("deep-arguments", "reply:\n  tool_calls:\n    - name: f\n      arguments: {a: " + "[" * DEEP + "]" * DEEP + "}\n", 4, f"nested more than {limits.MAX_DEPTH} deep"),
    ("deep-block-list", "reply: {text: hi}\ndescription:\n" + "".join("  " * i + "-\n" for i in range(DEEP)), 102, f"nested more than {limits.MAX_DEPTH} deep"),
    ("deep-through-aliases", "reply: {text: hi}\nx:\n" + "".join(f"  - &a{i} [[[[[[[[[[{'*a' + str(i - 1) if i else ''}]]]]]]]]]]\n" for i in range(20)), 11, f"nested more than {limits.MAX_DEPTH} deep, aliases followed"),
    # Alias bombs.
    ("billion-laughs", laughs(), 10, f"more than {limits.MAX_VALUES} values"),
    ("recursive-alias", "reply:\n  tool_calls:\n    - name: f\n      arguments: {a: &a [*a]}\n", 4, "an alias inside the value it names"),
    # Regexes Python's engine would overflow on, or RE2 cannot run.
    ("huge-repeat", "reply: {text: hi}\nmatch: {prompt: 'a{99999999999}'}\n", 2, "match.prompt: repeats 99999999999 times; RE2 allows at most 1000"),
    ("lookahead", "reply: {text: hi}\nmatch: {prompt: 'foo(?=bar)'}\n", 2, "match.prompt: RE2, a linear-time engine, does not support lookahead"),
    ("backreference", "reply: {text: hi}\nmatch: {prompt: '(a)\\1'}\n", 2, "match.prompt: RE2, a linear-time engine, does not support backreferences"),
    ("nested-repeat", "reply: {text: hi}\nmatch: {prompt: '(a{1000}){1000}'}\n", 2, "match.prompt: repeats 1000 times"),
    # Headers and statuses that cannot be sent.
    ("header-crlf", "reply: {text: hi}\nfaults:\n  - status: {code: 429, headers: {x-a: \"1\\r\\nSet-Cookie: evil\"}}\n", 3, "faults[0].status.headers.x-a: a header value cannot hold '\\r'"),
    ("header-nul", "reply: {text: hi}\nfaults:\n  - status: {code: 429, headers: {x-a: \"1\\0\"}}\n", 3, "a header value cannot hold '\\x00'"),
    ("header-name", "reply: {text: hi}\nfaults:\n  - status: {code: 429, headers: {\"bad name:\": x}}\n", 3, "faults[0].status.headers: 'bad name:' is not a header name"),
    ("content-type-lf", "reply: {text: hi}\nfaults:\n  - content_type: {value: \"text/html\\nX: y\"}\n", 3, "faults[0].content_type.value: a header value cannot hold '\\n'"),
    ("status-99999", "reply: {text: hi}\nfaults:\n  - status: {code: 99999}\n", 3, "faults[0].status.code: expected an HTTP status from 200 to 599, got 99999"),
    ("status-1xx", "reply: {text: hi}\nfaults:\n  - content_type: {status: 101}\n", 3, "faults[0].content_type.status: 101 is an interim status"),
    ("status-204", "reply: {text: hi}\nfaults:\n  - status: {code: 204}\n", 3, "faults[0].status.code: a 204 response has no body"),
    ("status-304", "reply: {text: hi}\nfaults:\n  - status: {code: 304}\n", 3, "faults[0].status.code: a 304 response has no body"),
    # Sizes past the limits.
    ("too-many-faults", "reply: {text: hi}\nfaults:\n" + "  - duplicate_done\n" * 5000, 3, f"faults: 5000 faults; a list holds at most {limits.MAX_FAULTS}"),
    ("heartbeat-flood", "reply: {text: hi}\nfaults:\n  - stall: {for: 1000000s, heartbeat: 1ms}\n", 3, f"faults[0].stall: sends 1000000000 heartbeats; a stall sends at most {limits.MAX_TOKENS}"),
    ("too-many-tokens", "reply:\n  tokenize: chars\n  text: '" + "x" * (limits.MAX_TOKENS + 1) + "'\n", 2, f"reply: {limits.MAX_TOKENS + 1} tokens (text tokens and tool-call argument fragments); a scenario holds at most {limits.MAX_TOKENS}"),
    ("too-many-values", "reply:\n  tokens: [" + "x, " * limits.MAX_VALUES + "]\n", 2, f"holds more than {limits.MAX_VALUES} values"),
    ("too-big", "reply: {text: hi}\ndescription: '" + "x" * limits.MAX_SOURCE_BYTES + "'\n", 1, f"larger than {limits.MAX_SOURCE_BYTES} bytes"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_hostile_text_is_a_located_problem(text, line, fragment):
    found = problems(text)
    assert any(p.startswith(f"{PATH}:{line}: ") and fragment in p for p in found), found
    assert all(len(p) < 400 for p in found), "a problem quotes a huge value in full"


def test_a_duplicate_key_is_reported_with_every_other_problem():
    found = problems("reply: {text: hi}\nseed: 1\nseed: 2\ntiming: {per_token: 5x}\n")
    assert found == [
        f"{PATH}:3: duplicate key 'seed'",
        f"{PATH}:4: timing.per_token: expected a duration like 250ms, 1.5s or 2m, got '5x'",
    ]


def test_an_unsupported_tag_is_reported_with_every_other_problem_and_never_built():
    found = problems("reply: {text: !!python/object/apply:os.system [echo hacked]}\ntiming: {per_token: 5x}\n")
    assert found[0] == f"{PATH}:1: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"
    assert found[-1] == f"{PATH}:2: timing.per_token: expected a duration like 250ms, 1.5s or 2m, got '5x'"


def test_a_problem_under_a_key_with_a_lone_surrogate_can_be_printed():
    [found] = problems('reply:\n  tool_calls:\n    - {name: f, arguments: {"\\ud800": .inf}}\n')
    assert found == f"{PATH}:3: reply.tool_calls[0].arguments.\\ud800: JSON has no infinity or NaN, got '.inf'"
    found.encode("utf-8")


def test_an_infinite_argument_is_refused_as_json_has_none():
    found = problems("reply:\n  tool_calls:\n    - {name: f, arguments: {x: .inf}}\n")
    assert found == [f"{PATH}:3: reply.tool_calls[0].arguments.x: JSON has no infinity or NaN, got '.inf'"]


@pytest.mark.parametrize(
    "prompt",
    ["(a+)+$", "(?i)weather", r"\bParis\b", r"^\d{3}-\d{4}$", r"\p{Han}"],
    ids=["nested-plus", "inline-flag", "word-boundary", "counted", "unicode-class"],
)
def test_patterns_re2_supports_are_accepted_and_search_like_re(prompt):
    scenario = parse_text(f"reply: {{text: hi}}\nmatch: {{prompt: '{prompt}'}}\n", PATH, default_name="ok")
    assert scenario.match is not None and scenario.match.prompt is not None
