"""script.py: a scenario and a request compiled into beats at absolute offsets."""

from __future__ import annotations

import json
import random
import textwrap

import pytest

from mockllm import events, script, tokens
from mockllm.dialects import Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.parse import parse_text
from mockllm.scenario import Scenario

PLAIN = """\
    name: plain
    reply: {text: "one two three four"}
    timing: {first_token: 250ms, per_token: 40ms}
    """
TOOLS = """\
    name: tools
    reply:
      text: "Checking."
      tool_calls:
        - {name: get_weather, arguments: '{"city": "Paris"}'}
    timing: {first_token: 100ms, per_token: 20ms}
    """
JITTERY = """\
    name: jittery
    reply: {tokens: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t]}
    timing: {first_token: 500ms, per_token: 100ms, jitter: 30ms}
    """
WILD = """\
    name: wild
    reply: {tokens: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t]}
    timing: {first_token: 20ms, per_token: 10ms, jitter: 50ms}
    """
EMPTY = """\
    name: empty
    reply: {text: ""}
    timing: {first_token: 1s, per_token: 1s}
    """

STREAM = Ask(model="m", stream=True)


def scenario(text: str) -> Scenario:
    return parse_text(textwrap.dedent(text), "test.yaml")


def compile(text: str, ask: Ask = STREAM, seed: int = 7, speed: float = 1.0) -> script.Script:
    at_speed = scenario(text).at_speed(speed)
    compiled = script.compile(at_speed, ask, openai_chat, rng=random.Random(seed), created=1)
    return compiled.materialized()


def timeline(text: str, ask: Ask = STREAM, seed: int = 7) -> list[tuple[float, events.Event]]:
    s = scenario(text)
    offsets, stream = script.timeline(s.reply, s.timing, ask, ["call_1"], random.Random(seed))
    assert len(offsets) == len(stream)
    return list(zip(offsets, stream))


def chunk(beat: script.Beat) -> dict:
    assert beat.data.startswith(b"data: ") and beat.data.endswith(b"\n\n")
    return json.loads(beat.data[len(b"data: "):])


ALL = [PLAIN, TOOLS, JITTERY, WILD, EMPTY]
ALL_IDS = ["plain", "tool-call", "jitter", "jitter-larger-than-gap", "empty-text"]


# -- the timeline ---------------------------------------------------------------


@pytest.mark.parametrize("text", ALL, ids=ALL_IDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_beats_are_in_non_decreasing_time_order(text, seed):
    times = [beat.at for beat in compile(text, seed=seed).beats]
    assert times == sorted(times)


def test_events_come_in_order_start_content_finish_done():
    kinds = [type(event) for _, event in timeline(TOOLS)]
    assert kinds == [
        events.Start,
        events.TextStart,
        events.Text,
        events.TextEnd,
        events.ToolCallStart,
        *[events.ToolCallArguments] * len(tokens.fragments('{"city": "Paris"}')),
        events.ToolCallEnd,
        events.Finish,
        events.Done,
    ]


def test_a_blocks_end_goes_with_what_follows_it():
    plan = timeline(TOOLS)
    for i, (at, event) in enumerate(plan):
        if isinstance(event, (events.TextEnd, events.ToolCallEnd)):
            assert at == plan[i + 1][0]


def test_first_beat_is_the_role_chunk_at_zero():
    first = compile(PLAIN).beats[0]
    assert first.at == 0.0
    assert chunk(first)["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert first.tokens == 0


def test_first_content_arrives_at_first_token_then_one_per_token_gap():
    plan = timeline(PLAIN)
    content = [(at, e.text) for at, e in plan if isinstance(e, events.Text)]
    assert [text for _, text in content] == ["one", " two", " three", " four"]
    assert [at for at, _ in content] == pytest.approx([0.25, 0.29, 0.33, 0.37])


def test_finish_comes_one_gap_after_the_last_token_with_done():
    plan = timeline(PLAIN)
    finish_at, finish = plan[-2]
    done_at, done = plan[-1]
    assert finish == events.Finish("stop")
    assert done == events.Done()
    assert finish_at == pytest.approx(0.37 + 0.04)
    assert done_at == finish_at


def test_empty_reply_finishes_at_first_token():
    plan = timeline(EMPTY)
    assert [type(e) for _, e in plan] == [events.Start, events.TextStart, events.TextEnd, events.Finish, events.Done]
    assert plan[3][0] == 1.0


def test_usage_is_sent_only_with_include_usage():
    without = timeline(PLAIN)
    with_usage = timeline(PLAIN, Ask(model="m", stream=True, include_usage=True, prompt_tokens=9))
    assert not any(isinstance(e, events.Usage) for _, e in without)
    assert [type(e) for _, e in with_usage[-3:]] == [events.Finish, events.Usage, events.Done]
    assert with_usage[-2][1] == events.Usage(prompt_tokens=9, completion_tokens=4)


def test_usage_chunk_has_no_choices_and_comes_before_done():
    beats = compile(PLAIN, Ask(model="m", stream=True, include_usage=True)).beats
    usage = chunk(beats[-2])
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 4
    assert all(b'"usage":{' not in beat.data for beat in beats if beat is not beats[-2])


@pytest.mark.parametrize("text", ALL, ids=ALL_IDS)
def test_done_is_the_last_beat(text):
    beats = compile(text).beats
    assert beats[-1].data == b"data: [DONE]\n\n"
    assert sum(beat.data == b"data: [DONE]\n\n" for beat in beats) == 1


@pytest.mark.parametrize("speed", [2.0, 10.0, 0.5], ids=["x2", "x10", "half"])
def test_speed_divides_every_offset_and_changes_no_bytes(speed):
    slow = compile(JITTERY, seed=3)
    fast = compile(JITTERY, seed=3, speed=speed)
    assert [beat.at for beat in fast.beats] == pytest.approx([beat.at / speed for beat in slow.beats])
    assert [beat.data for beat in fast.beats] == [beat.data for beat in slow.beats]
    assert dict(fast.headers)["openai-processing-ms"] == str(round(500 / speed))


# -- jitter ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_jitter_keeps_every_gap_within_plus_or_minus_jitter(seed):
    times = [at for at, e in timeline(JITTERY, seed=seed)
             if not isinstance(e, (events.Start, events.Done, *events.BLOCKS))]
    assert 0.47 <= times[0] <= 0.53
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.07 - 1e-9 <= gap <= 0.13 + 1e-9 for gap in gaps)
    assert len(set(round(gap, 9) for gap in gaps)) > 1, "jitter varies the gaps"


@pytest.mark.parametrize("seed", range(10))
def test_jitter_larger_than_the_gap_never_makes_time_go_backwards(seed):
    times = [at for at, _ in timeline(WILD, seed=seed)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) == 0.0, "some draws were clamped"
    assert all(gap >= 0.0 for gap in gaps)


# -- determinism ----------------------------------------------------------------


@pytest.mark.parametrize("text", ALL, ids=ALL_IDS)
def test_same_seed_gives_an_identical_script(text):
    assert compile(text, seed=42) == compile(text, seed=42)


def test_different_seeds_give_different_ids():
    one, two = compile(TOOLS, seed=1), compile(TOOLS, seed=2)
    first = [chunk(beat) for beat in one.beats[:3]]
    second = [chunk(beat) for beat in two.beats[:3]]
    assert first[0]["id"] != second[0]["id"]
    assert first[2]["choices"][0]["delta"]["tool_calls"][0]["id"] != (
        second[2]["choices"][0]["delta"]["tool_calls"][0]["id"]
    )
    assert dict(one.headers)["x-request-id"] != dict(two.headers)["x-request-id"]


def test_different_seeds_give_different_jitter():
    assert timeline(JITTERY, seed=1) != timeline(JITTERY, seed=2)


def test_a_tool_call_id_given_in_the_scenario_is_kept():
    text = TOOLS.replace("{name: get_weather,", "{name: get_weather, id: call_fixed,")
    ids = {compile(text, seed=s).beats[2].data.count(b'"id":"call_fixed"') for s in (1, 2)}
    assert ids == {1}


# -- stream: false --------------------------------------------------------------


@pytest.mark.parametrize("text", ALL, ids=ALL_IDS)
def test_non_stream_is_one_beat_at_the_streams_finish_time(text):
    streamed = compile(text, seed=5)
    whole = compile(text, Ask(model="m", stream=False), seed=5)
    finish_at = next(beat.at for beat in streamed.beats if b'"finish_reason":"' in beat.data)
    assert whole.streaming is False and streamed.streaming is True
    assert len(whole.beats) == 1
    assert whole.beats[0].at == finish_at
    assert whole.headers_at == finish_at
    assert dict(whole.headers)["Content-Type"] == "application/json"


def test_non_stream_body_is_the_whole_completion():
    whole = compile(TOOLS, Ask(model="m", stream=False))
    body = json.loads(whole.body)
    message = body["choices"][0]["message"]
    assert body["object"] == "chat.completion"
    assert message["content"] == "Checking."
    assert message["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert body["choices"][0]["finish_reason"] == "tool_calls"


# -- counting and joining ----------------------------------------------------------


def test_beat_tokens_count_text_and_argument_fragments_only():
    beats = compile(TOOLS).beats
    fragments = tokens.fragments('{"city": "Paris"}')
    assert [beat.tokens for beat in beats] == [0, 1, 0, *[1] * len(fragments), 0, 0]
    assert sum(beat.tokens for beat in beats) == 1 + len(fragments)


def test_beat_tokens_ignore_the_usage_chunk():
    beats = compile(PLAIN, Ask(model="m", stream=True, include_usage=True)).beats
    assert [beat.tokens for beat in beats] == [0, 1, 1, 1, 1, 0, 0, 0]


def test_script_body_joins_the_beats_in_order():
    made = script.Script(200, (), (script.Beat(0.0, b"ab"), script.Beat(1.0, b""), script.Beat(2.0, b"c\n")))
    assert made.body == b"abc\n"


def test_compiled_body_is_every_beat_back_to_back():
    compiled = compile(PLAIN)
    assert compiled.body.startswith(compiled.beats[0].data)
    assert compiled.body.endswith(b"data: [DONE]\n\n")
    assert len(compiled.body) == sum(len(beat.data) for beat in compiled.beats)
