"""Conversations: every format's request read into one wire-free view
(``Ask.messages``, ``tools``, ``metadata``), the ``match`` rules that read it,
and ``turns`` chosen by the model turns a request carries."""

from __future__ import annotations

import json
import textwrap
from types import MappingProxyType

import pytest

from mockllm.dialects import DIALECTS, Ask, Call, Message, Route
from mockllm.errors import RequestError, ScenarioErrors
from mockllm.library import Library
from mockllm.parse import parse_text
from mockllm.router import select, turn_of

# One agent loop (a system prompt, a question, a get_weather call, its
# result), as each format's client sends it on the second request.
LOOP = {
    "openai": {
        "model": "m", "user": "u-1", "metadata": {"app": "demo"},
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    },
    "responses": {
        "model": "m", "instructions": "Be brief.", "user": "u-1", "metadata": {"app": "demo"},
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18 C"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {}}],
    },
    "anthropic": {
        "model": "m", "max_tokens": 64, "system": "Be brief.", "metadata": {"user_id": "u-1"},
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"}]},
        ],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    },
    "gemini": {
        "systemInstruction": {"parts": [{"text": "Be brief."}]}, "labels": {"user": "u-1"},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": "18 C"}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
    },
    "ollama": {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {}}}]},
            {"role": "tool", "content": "18 C", "tool_name": "get_weather"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
    },
}
CALLS = {"gemini": Call(Route("POST", "/v1beta/models/{model}:generateContent", "once"), {"model": "m"})}


def parse(format_: str, body: dict) -> Ask:
    dialect = DIALECTS[format_]
    return dialect.parse(body, CALLS.get(format_, Call(dialect.routes[0])))


@pytest.mark.parametrize("format_", LOOP)
def test_every_format_reads_the_same_agent_loop(format_):
    ask = parse(format_, LOOP[format_])
    seen = [(m.role, m.calls, m.result_of) for m in ask.messages]
    assert seen == [
        ("system", (), ""), ("user", (), ""), ("assistant", ("get_weather",), ""), ("tool", (), "get_weather"),
    ]
    assert [m.text for m in ask.messages[:2]] == ["Be brief.", "Weather in Paris?"]
    assert ask.prompt == "Weather in Paris?"  # the question, not the tool result
    assert ask.tools == ("get_weather",)


@pytest.mark.parametrize(("format_", "metadata"), [
    ("openai", (("app", "demo"), ("user", "u-1"))), ("responses", (("app", "demo"), ("user", "u-1"))),
    ("anthropic", (("user_id", "u-1"),)), ("gemini", (("user", "u-1"),)), ("ollama", ()),
])
def test_metadata_is_what_the_format_carries(format_, metadata):
    assert parse(format_, LOOP[format_]).metadata == metadata


def test_a_parallel_call_and_a_follow_up_question_read_as_turns():
    body = {"model": "m", "max_tokens": 9, "messages": [
        {"role": "user", "content": "Paris and Rome?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "a", "name": "get_weather", "input": {}},
            {"type": "tool_use", "id": "b", "name": "get_time", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "b", "content": [{"type": "text", "text": "noon"}]},
            {"type": "tool_result", "tool_use_id": "a", "content": "18 C"},
            {"type": "text", "text": "And Oslo?"}]},
    ]}
    ask = parse("anthropic", body)
    assert [(m.role, m.text, m.calls, m.result_of) for m in ask.messages] == [
        ("user", "Paris and Rome?", (), ""),
        ("assistant", "Looking.", ("get_weather", "get_time"), ""),
        ("tool", "noon", (), "get_time"),
        ("tool", "18 C", (), "get_weather"),
        ("user", "And Oslo?", (), ""),
    ]
    assert ask.prompt == "And Oslo?"


def test_a_responses_model_turn_of_several_items_is_one_assistant_message():
    body = {"model": "m", "input": [
        {"role": "user", "content": "Paris?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "18 C"},
    ]}
    ask = parse("responses", body)
    assert [(m.role, m.text, m.calls) for m in ask.messages] == [
        ("user", "Paris?", ()), ("assistant", "Let me look.", ("get_weather",)), ("tool", "18 C", ()),
    ]
    assert ask.messages[-1].result_of == "get_weather"


@pytest.mark.parametrize("body", [
    {"model": "m", "messages": [{"role": "user", "content": "hi", "tool_calls": "nope"}]},
    {"model": "m", "messages": [{"role": "assistant", "content": "x", "tool_calls": [{"function": 3}, 7]}]},
    {"model": "m", "messages": [{"role": "tool", "content": "x", "tool_call_id": 5}]},
], ids=["calls-not-a-list", "calls-of-odd-shapes", "id-not-a-string"])
def test_odd_shapes_the_api_lets_through_read_as_empty_not_as_a_crash(body):
    ask = parse("openai", body)
    assert all(isinstance(m.text, str) and all(isinstance(c, str) for c in m.calls) for m in ask.messages)


# -- match rules -------------------------------------------------------------

SECOND = parse("openai", LOOP["openai"])  # the loop's second request
FIRST = parse("openai", {**LOOP["openai"], "messages": LOOP["openai"]["messages"][:2]})


def chosen(match: str, ask: Ask, headers: dict | None = None) -> str:
    rule = parse_text(f"name: rule\nmatch: {match}\nreply: {{text: ruled}}\n", "t.yaml")
    fallback = parse_text("name: fallback\nreply: {text: fell}\n", "t.yaml")
    library = Library(MappingProxyType({"rule": rule, "fallback": fallback}), "fallback")
    return select(library, ask, headers=headers or {}).name


@pytest.mark.parametrize(("match", "first", "second"), [
    ("{turn: 1}", "rule", "rule"),  # user messages, not requests: both carry one
    ("{turn: 2}", "fallback", "fallback"),
    ("{has_tool_result: true}", "fallback", "rule"),
    ("{has_tool_result: false}", "rule", "fallback"),
    ("{tool_result_for: get_weather}", "fallback", "rule"),
    ("{tool_result_for: get_time}", "fallback", "fallback"),
    ("{tool_offered: get_weather}", "rule", "rule"),
    ("{tool_offered: get_time}", "fallback", "fallback"),
    ("{system: '(?i)brief'}", "rule", "rule"),
    ("{last_role: user}", "rule", "fallback"),
    ("{last_role: tool}", "fallback", "rule"),
    ("{metadata: {app: ^demo$}}", "rule", "rule"),
    ("{metadata: {app: other}}", "fallback", "fallback"),
    ("{user: u-1}", "rule", "rule"),
    ("{prompt: Paris, has_tool_result: true}", "fallback", "rule"),  # AND
])
def test_each_match_rule_reads_the_conversation(match, first, second):
    assert (chosen(match, FIRST), chosen(match, SECOND)) == (first, second)


def test_header_rules_need_the_header_and_a_match():
    match = "{header: {X-Tenant: '^acme$'}}"
    assert chosen(match, FIRST, {"X-Tenant": "acme"}) == "rule"
    assert chosen(match, FIRST, {"X-Tenant": "acme-2"}) == "fallback"
    assert chosen(match, FIRST, {}) == "fallback"


@pytest.mark.parametrize(("match", "problem"), [
    ("{turns: 1}", "match: unknown key 'turns'; did you mean 'turn'?"),
    ("{turn: 0}", "match.turn: expected a whole number of at least 1, got 0"),
    ("{has_tool_result: yes please}", "match.has_tool_result: expected true or false"),
    ("{last_role: robot}", "match.last_role: unknown value 'robot'"),
    ("{header: X-Tenant}", "match.header: expected a mapping of names to patterns"),
    ("{system: '(?<=a)b'}", "match.system:"),
])
def test_a_bad_rule_names_its_line_and_key(match, problem):
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(f"name: rule\nmatch: {match}\nreply: {{text: x}}\n", "t.yaml")
    assert f"t.yaml:2: {problem}" in str(caught.value)


# -- turns -------------------------------------------------------------------

AGENT = textwrap.dedent("""\
    name: agent
    timing: {per_token: 10ms}
    turns:
      - reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
      - reply: {text: Sunny.}
        timing: {per_token: 50ms}
        faults: [{drop: {after: 1}}]
""")


def test_the_turn_is_one_more_than_the_model_turns_the_request_carries():
    agent = parse_text(AGENT, "agent.yaml")
    assert turn_of(agent, FIRST).reply.tool_calls[0].name == "get_weather"
    second = turn_of(agent, SECOND)
    assert (second.turn, second.reply.text, second.key) == (2, "Sunny.", "agent#turn2")
    assert second.timing.per_token == 0.05 and turn_of(agent, FIRST).timing.per_token == 0.01  # inherited
    assert [spec.describe() for spec in second.faults] == ["drop(after=1)"] and not turn_of(agent, FIRST).faults


def test_a_request_past_the_last_turn_is_an_error_naming_the_conversation_and_the_turn():
    agent = parse_text(AGENT, "agent.yaml")
    third = Ask(model="agent", messages=(*SECOND.messages, Message("assistant", "Sunny."), Message("user", "More?")))
    with pytest.raises(RequestError) as caught:
        turn_of(agent, third)
    assert caught.value.status == 404 and caught.value.code == "turn_not_found"
    assert "Conversation 'agent' has 2 turn(s), but this request carries 2 model turn(s), so it asks for turn 3" \
        in caught.value.message


@pytest.mark.parametrize(("text", "problem"), [
    ("name: a\nreply: {text: x}\nturns: [{reply: {text: y}}]\n", "a.yaml:2: reply: belongs in each turn"),
    ("name: a\nturns: []\n", "a.yaml:2: turns: needs at least one turn"),
    ("name: a\nturns: [{text: y}]\n", "a.yaml:2: turns[0]: unknown key 'text' (expected one of: reply, steps,"),
    ("name: a\nturns:\n  - reply: {text: y}\n  - timing: {per_token: 1ms}\n",
     "a.yaml:4: turns[1]: missing key 'reply' (or 'steps')"),
])
def test_bad_turns_name_the_line_and_key(text, problem):
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(text, "a.yaml")
    assert problem in str(caught.value)


def test_a_gemini_model_turn_sent_as_one_content_per_chunk_is_one_turn():
    # google-genai's streamed automatic function calling sends back each chunk's
    # content: the call, then the last chunk's empty text.
    body = {**LOOP["gemini"], "contents": [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}, "id": "c1"}}]},
        {"role": "model", "parts": [{"text": ""}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": "18 C"}}}]},
    ]}
    ask = parse("gemini", body)
    assert [(m.role, m.calls) for m in ask.messages] == [
        ("system", ()), ("user", ()), ("assistant", ("get_weather",)), ("tool", ()),
    ]
    assert turn_of(parse_text(AGENT, "agent.yaml"), ask).turn == 2


def test_an_anthropic_thread_continued_is_not_found_so_the_whole_conversation_comes_again():
    # A continuation carries only the thread's newest messages; mockllm keeps no
    # thread to read the rest from, so it says so the way the SDKs recover from.
    continued = {**LOOP["anthropic"], "messages": LOOP["anthropic"]["messages"][2:],
                 "thread": {"type": "continue", "previous_message_id": "msg_1"}}
    with pytest.raises(RequestError) as caught:
        parse("anthropic", continued)
    assert (caught.value.status, caught.value.code) == (404, "thread_not_found")
    error = json.loads(DIALECTS["anthropic"].error_body(caught.value))["error"]
    assert error["type"] == "not_found_error" and error["details"] == {"error_code": "thread_not_found"}
    assert "'msg_1'" in error["message"]
    created = parse("anthropic", {**LOOP["anthropic"], "thread": {"type": "create"}})  # the whole conversation
    assert turn_of(parse_text(AGENT, "agent.yaml"), created).turn == 2


def test_responses_item_references_are_pieces_of_the_model_turn_they_name():
    # A stored response's items sent back by reference (the AI SDK does so for
    # provider-defined tools with store): one model turn, whatever it holds.
    body = {"model": "m", "input": [
        {"role": "user", "content": "Paris?"},
        {"type": "item_reference", "id": "rs_1"},
        {"type": "item_reference", "id": "fc_1"},
        {"type": "function_call_output", "call_id": "c1", "output": "18 C"},
    ]}
    ask = parse("responses", body)
    assert [(m.role, m.text) for m in ask.messages] == [("user", "Paris?"), ("assistant", ""), ("tool", "18 C")]
    assert turn_of(parse_text(AGENT, "agent.yaml"), ask).turn == 2
