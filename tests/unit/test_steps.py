"""``steps:`` scenarios: parsing each step, and compiling them into a timed script."""

from __future__ import annotations

import json
import random

import pytest

from mockllm import events
from mockllm.dialects import Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.errors import ScenarioErrors
from mockllm.parse import parse_text
from mockllm.scenario import Close, Sleep, ToolCallStep, UsageStep
from mockllm.script import End, compile

STEPS = """\
name: odd
steps:
  - start
  - sleep: 100ms
  - text: "Hel"
  - comment: ping
  - raw: "data: {oops\\n\\n"
  - tool_call: {name: lookup, arguments: '{"q"', id: call_1}
  - tool_call: {arguments: ': "x"}'}
  - finish: tool_calls
  - usage
  - usage: {prompt_tokens: 7, completion_tokens: 9}
  - error: {message: boom}
  - done
  - sleep: 1s
  - close: reset
  - text: never sent
"""


def compiled(yaml_text: str, *, stream: bool = True, speed: float = 1.0):
    scenario = parse_text(yaml_text, "t.yaml")
    ask = Ask(model=scenario.name, stream=stream, include_obfuscation=False, prompt_tokens=4)
    script = compile(scenario.at_speed(speed), ask, openai_chat, rng=random.Random(0), created=1)
    return scenario, script.materialized()


def test_every_step_kind_parses_to_its_value():
    scenario = parse_text(STEPS, "t.yaml")
    assert scenario.steps == (
        events.Start(),
        Sleep(0.1),
        events.Text("Hel"),
        events.Comment("ping"),
        events.Raw(b"data: {oops\n\n"),
        ToolCallStep(index=0, name="lookup", arguments='{"q"', id="call_1"),
        ToolCallStep(index=0, arguments=': "x"}'),
        events.Finish("tool_calls"),
        UsageStep(),
        UsageStep(7, 9),
        events.Error("boom"),
        events.Done(),
        Sleep(1.0),
        Close("reset"),
        events.Text("never sent"),
    )


def test_steps_play_at_the_time_their_sleeps_add_up_to_and_stop_at_close():
    _, script = compiled(STEPS)
    times = [beat.at for beat in script.beats]
    assert times[0] == 0.0 and all(at == pytest.approx(0.1) for at in times[1:])
    assert script.end is End.RESET and script.end_at == pytest.approx(1.1)
    assert b"never sent" not in script.body


def test_raw_and_comment_steps_go_out_byte_for_byte():
    _, script = compiled(STEPS)
    assert b"data: {oops\n\n" in [beat.data for beat in script.beats]
    assert b": ping\n\n" in [beat.data for beat in script.beats]


def test_tool_call_steps_open_a_call_then_add_arguments():
    _, script = compiled(STEPS)
    deltas = [
        json.loads(beat.data[6:])["choices"][0]["delta"]
        for beat in script.beats
        if b'"tool_calls"' in beat.data and b"finish_reason\":null" in beat.data
    ]
    assert deltas == [
        {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                         "function": {"name": "lookup", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"q"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ': "x"}'}}]},
    ]


def test_a_bare_usage_step_counts_the_request_and_the_content_so_far():
    _, script = compiled(STEPS)
    usages = [json.loads(b.data[6:])["usage"] for b in script.beats if b'"usage":{' in b.data]
    assert [(u["prompt_tokens"], u["completion_tokens"]) for u in usages] == [(4, 3), (7, 9)]


def test_content_steps_count_as_tokens_for_triggers():
    _, script = compiled(STEPS)
    assert sum(beat.tokens for beat in script.beats) == 3  # "Hel" and two argument fragments


def test_speed_divides_sleeps():
    _, script = compiled(STEPS, speed=10)
    assert script.end_at == pytest.approx(0.11)


def test_stream_false_answers_with_what_the_steps_say_when_they_would_have_finished():
    scenario, script = compiled(STEPS, stream=False)
    body = json.loads(script.body)
    message = body["choices"][0]["message"]
    assert message["content"] == "Hel"
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert script.headers_at == pytest.approx(1.1)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("steps: [{txt: hi}]", "t.yaml:1: steps[0].txt: unknown step; did you mean 'text'?"),
        ("steps: [finished]", "t.yaml:1: steps[0]: unknown step 'finished'; did you mean 'finish'?"),
        ("steps: [{done: 1}]", "t.yaml:1: steps[0].done: takes no value; write '- done'"),
        ("steps: [{close: rst}]", "t.yaml:1: steps[0].close: unknown value 'rst'; did you mean 'reset'?"),
        ("steps: [{sleep: soon}]",
         "t.yaml:1: steps[0].sleep: expected a duration like 250ms, 1.5s or 2m, got 'soon'"),
        ("steps: [{tool_call: {index: 1}}]",
         "t.yaml:1: steps[0].tool_call: needs 'name' (to open a call) or 'arguments' (to add to one)"),
        ("steps: [[text, hi]]", "t.yaml:1: steps[0]: expected a step like '- text: Hello' or '- done', got a list"),
        ("reply: {text: hi}\nsteps: [done]", "t.yaml:2: give either 'reply' or 'steps', not both"),
        ("steps: [done]\ntiming: {per_token: 1s}",
         "t.yaml:2: timing: applies to 'reply'; steps set their own pace with 'sleep'"),
    ],
    ids=["unknown-kind", "unknown-bare", "bare-with-value", "bad-close", "bad-sleep", "empty-tool-call",
         "not-a-step", "reply-and-steps", "timing-with-steps"],
)
def test_step_problems_are_reported_with_line_and_key_path(yaml_text, message):
    with pytest.raises(ScenarioErrors) as caught:
        parse_text("name: x\n" + yaml_text, "t.yaml")
    # The scenario starts on line 2 of the text given: shift the expectation.
    line, rest = message.split(":", 2)[1:]
    assert f"t.yaml:{int(line) + 1}:{rest}" in [str(p) for p in caught.value.problems]
