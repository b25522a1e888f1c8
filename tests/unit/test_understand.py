"""Every format cuts its own stream into frames and says what each frame means
(``Framing.frames``, ``Dialect.understand``): what ``mockllm proxy`` and a
recorded ``raw:`` step read, so that faults act on an upstream's stream as on
mockllm's own.

What holds for mockllm's own streams, format by format: a beat is whole frames,
one frame a beat but for the Responses API (its structural beats hold two or
three frames) and Anthropic (``message_start`` travels with a ``ping``). A
beat is understood as its event, except where the format has no frame that
says it: the Responses API's finish is the closing frames of the last item
(the final event says how the reply ended), Gemini and Ollama send a call
whole at its end (so its ``ToolCallEnd`` beat reads as the call's arguments),
and the Responses error is ``error`` then ``response.failed`` (Error, Done).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time

import pytest

from mockllm import events, faults, pipeline
from mockllm.dialects import DIALECTS, Dialect
from mockllm.faults import FAULTS, FaultSpec
from mockllm.library import load_library
from mockllm.script import Beat, Script

STREAMING = [d for d in DIALECTS.values() if d.streams]
IDS = [d.name for d in STREAMING]
LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts and not s.chaos]
SSE = DIALECTS["openai"].framing
NDJSON = DIALECTS["ollama"].framing


def _script(scenario_name: str, dialect: Dialect, *fault: FaultSpec) -> Script:
    scenario = LIBRARY.scenarios[scenario_name]
    example = dialect.example(scenario.name, "hi", stream=True)
    ask = dataclasses.replace(dialect.parse(example.body, example.call), include_usage=True)
    script = pipeline.plan(scenario, ask, dialect, created=1)
    return faults.apply(script, list(fault), random.Random(0)) if fault else script


def _read(dialect: Dialect, data: bytes) -> list[events.Event]:
    """What the frames of ``data`` say, leaving out the frames that say nothing."""
    frames, rest = dialect.framing.frames(data)
    assert rest == b""
    return [event for event in map(dialect.understand, frames) if event is not None]


# -- cutting ---------------------------------------------------------------------

@pytest.mark.parametrize(("buffer", "frames", "rest"), [
    (b"data: a\n\ndata: b\n\n", [b"data: a\n\n", b"data: b\n\n"], b""),
    (b"data: a\r\n\r\ndata: b\r\n\r\ndata", [b"data: a\r\n\r\n", b"data: b\r\n\r\n"], b"data"),
    (b"data: a\r\rdata: b\r\rx", [b"data: a\r\r", b"data: b\r\r"], b"x"),
    (b"event: e\r\ndata: {}\r\n\r\n", [b"event: e\r\ndata: {}\r\n\r\n"], b""),
    (b"data: a\n\r\n", [b"data: a\n\r\n"], b""),
    (b": ping\n\n:\n\n", [b": ping\n\n", b":\n\n"], b""),
    (b"\r\ndata: a\r\n\r\n", [b"\r\n", b"data: a\r\n\r\n"], b""),  # Gemini's heartbeat: an empty line
    (b"data: a\r\n", [], b"data: a\r\n"),
    (b"data: a\r\n\r", [], b"data: a\r\n\r"),  # the CR may be half of a CRLF
    (b"data: a\r\r", [], b"data: a\r\r"),
    (b"data: a\r\rb", [b"data: a\r\r"], b"b"),
    (b"\r", [], b"\r"),
    (b"", [], b""),
], ids=repr)
def test_an_sse_frame_ends_at_a_blank_line_in_any_line_ending(buffer: bytes, frames: list[bytes], rest: bytes):
    assert SSE.frames(buffer) == (frames, rest)


@pytest.mark.parametrize(("buffer", "frames", "rest"), [
    (b'{"a":1}\n{"b":2}\r\n{"c"', [b'{"a":1}\n', b'{"b":2}\r\n'], b'{"c"'),
    (b"\n{}\n", [b"\n", b"{}\n"], b""),
    (b"{}", [], b"{}"),
], ids=repr)
def test_an_ndjson_frame_is_a_line(buffer: bytes, frames: list[bytes], rest: bytes):
    assert NDJSON.frames(buffer) == (frames, rest)


def test_gemini_cuts_its_raw_mid_stream_error_object_as_one_frame():
    gemini = DIALECTS["gemini"]
    error = b'{\n  "error": {\n    "code": 503,\n    "message": "x",\n    "status": "UNAVAILABLE"\n  }\n}\n'
    frame = b'data: {"candidates": []}\r\n\r\n'
    assert gemini.framing.frames(frame + error) == ([frame, error], b"")
    assert gemini.framing.frames(frame + error[:-3]) == ([frame], error[:-3])


def _fed(framing, data: bytes, size: int) -> list[bytes]:
    """The frames a reader gets that reads ``data`` ``size`` bytes at a time."""
    frames: list[bytes] = []
    rest = b""
    for at in range(0, len(data), size):
        cut, rest = framing.frames(rest + data[at : at + size])
        frames += cut
    return frames + ([rest] if rest else [])


# Every line ending an SSE stream may have; NDJSON lines end in LF.
ENDINGS = [(d, style) for d in STREAMING for style in (None, "crlf", "cr") if d.framing is not NDJSON or not style]


@pytest.mark.parametrize(("dialect", "style"), ENDINGS, ids=[f"{d.name}-{style or 'lf'}" for d, style in ENDINGS])
def test_any_reads_cut_the_same_frames_as_the_whole_body(dialect: Dialect, style: str | None):
    extra = [FaultSpec(FAULTS["line_endings"](style=style))] if style else []
    body = _script("text-then-tool-call", dialect, *extra).body
    whole = _fed(dialect.framing, body, len(body))  # at the end of the body, a CR it held is the last frame's
    assert b"".join(whole) == body and len(whole) >= len(_script("text-then-tool-call", dialect).beats)
    for size in (1, 2, 3, 7, 4096):
        assert _fed(dialect.framing, body, size) == whole, size


def _feed_time(framing, data: bytes) -> float:
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        _fed(framing, data, 1)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("framing", [SSE, NDJSON, DIALECTS["gemini"].framing], ids=["sse", "ndjson", "gemini"])
def test_cutting_a_stream_read_a_byte_at_a_time_takes_time_in_proportion_to_it(framing):
    frame = b'data: {"choices":[{"delta":{"content":"' + b"x" * 60 + b'"}}]}\n\n'
    small = frame * (50_000 // len(frame))
    large = frame * (200_000 // len(frame))
    assert b"".join(_fed(framing, large, 1)) == large
    # Four times the bytes: about four times the time when linear, sixteen when each read rescans from the start.
    assert _feed_time(framing, large) < 10 * _feed_time(framing, small)


LONG = b'{"a":"' + b"x" * 100_000 + b'"}'


@pytest.mark.parametrize(("framing", "frame"), [
    (SSE, b"event: x\ndata: " + LONG + b"\n\n"), (NDJSON, LONG + b"\n"),
    (DIALECTS["gemini"].framing, b"data: " + LONG + b"\r\n\r\n"),
], ids=["sse", "ndjson", "gemini"])
def test_a_long_frame_read_a_byte_at_a_time_costs_about_what_the_readers_own_copying_does(framing, frame: bytes):

    def reading(cut) -> float:
        started = time.perf_counter()
        rest = b""
        for at in range(len(frame)):
            rest = cut(rest + frame[at : at + 1])
        return time.perf_counter() - started

    assert framing.frames(frame) == ([frame], b"")
    # The reader copies what it holds on every read; a scan of it at memchr speed adds a little to
    # that, a regular expression's scan (or a Python step a byte) many times as much.
    assert min(reading(lambda b: framing.frames(b)[1]) for _ in range(2)) < 10 * min(reading(bytes) for _ in range(2))


def test_one_large_read_is_cut_by_offsets_not_copied_per_frame():
    frame = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
    few, many = frame * 2_000, frame * 16_000
    assert len(SSE.frames(many)[0]) == 16_000

    def cost(data: bytes) -> float:
        started = time.perf_counter()
        SSE.frames(data)
        return time.perf_counter() - started

    assert min(cost(many) for _ in range(3)) < 30 * min(cost(few) for _ in range(3))


# -- splitting: the malformed fault breaks a real frame and keeps its terminator ---------------

# shared/wire-format.md §13.2 (Gemini, CRLF) and §4 (Responses, with CRLF as a proxy may relay it).
GEMINI_FRAME = (b'data: {"candidates": [{"content": {"parts": [{"text": "The capital of Mexico"}],"role": "model"},'
                b'"index": 0}],"usageMetadata": {"promptTokenCount": 55,"candidatesTokenCount": 4,"totalTokenCount": 59,'
                b'"promptTokensDetails": [{"modality": "TEXT","tokenCount": 55}]},"modelVersion": "gemini-3-pro-preview",'
                b'"responseId": "S1V8aZK2NpGKqtsPvPuEqAw"}\r\n\r\n')
RESPONSES_CRLF = (b'event: response.output_text.delta\r\ndata: {"type":"response.output_text.delta","sequence_number":4,'
                  b'"item_id":"msg_029acd","output_index":0,"content_index":0,"delta":"Elegant","logprobs":[]}\r\n\r\n')
CR_FRAME = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\r\r'


@pytest.mark.parametrize(("dialect", "frame", "head", "tail"), [
    ("gemini", GEMINI_FRAME, b"data: ", b"\r\n\r\n"),
    ("responses", RESPONSES_CRLF, b"event: response.output_text.delta\r\ndata: ", b"\r\n\r\n"),
    ("openai", CR_FRAME, b"data: ", b"\r\r"),
], ids=["gemini-crlf", "responses-event-crlf", "openai-cr"])
def test_malformed_breaks_the_json_of_a_real_frame_and_keeps_its_framing(dialect: str, frame: bytes, head: bytes,
                                                                          tail: bytes):
    format_ = DIALECTS[dialect]
    text = format_.understand(frame)
    assert isinstance(text, events.Text)
    assert format_.framing.split(frame) == (head, frame[len(head) : -len(tail)], tail)
    script = Script(200, (), (Beat(0.0, frame, 1, text),), dialect=format_)
    for kind in ("invalid_json", "truncated_json", "bad_utf8"):
        broken = faults.apply(script, [FaultSpec(FAULTS["malformed"](kind=kind))], random.Random(0)).body
        assert broken.startswith(head) and broken.endswith(tail) and broken != frame, kind
        with pytest.raises(ValueError):
            json.loads(broken[len(head) : -len(tail)])
        assert format_.understand(broken) is None, kind


# -- understanding mockllm's own streams -------------------------------------------------------

# Where a beat is not understood as its own event (see the module's docstring).
UNDERSTOOD_AS = {
    ("responses", events.Finish): [],
    ("responses", events.Error): [events.Error, events.Done],
    ("gemini", events.ToolCallEnd): [events.ToolCallArguments],
    ("ollama", events.ToolCallEnd): [events.ToolCallArguments],
}
SAID = (events.Start, events.Text, events.ToolCallStart, events.ToolCallArguments, events.Finish, events.Usage,
        events.Done, events.Error)


def _scripts(dialect: Dialect) -> list[Script]:
    return [_script(s.name, dialect) for s in CLEAN] + [_script("error-event", dialect)]


@pytest.mark.parametrize("dialect", STREAMING, ids=IDS)
def test_a_streams_body_cuts_into_its_beats_frames(dialect: Dialect):
    for script in _scripts(dialect):
        body = script.body
        frames, rest = dialect.framing.frames(body)
        per_beat = [dialect.framing.frames(beat.data) for beat in script.beats]
        assert rest == b"" and all(left == b"" and cut for cut, left in per_beat)
        assert frames == [frame for cut, _ in per_beat for frame in cut]
        if dialect.name not in ("responses", "anthropic"):
            assert len(frames) == len(script.beats)


@pytest.mark.parametrize("dialect", STREAMING, ids=IDS)
def test_every_beat_is_understood_as_the_event_it_sends(dialect: Dialect):
    for script in _scripts(dialect):
        for beat in script.beats:
            kind = type(beat.event)
            said = _read(dialect, beat.data)
            default = [kind] if kind in SAID else []
            assert [type(e) for e in said] == UNDERSTOOD_AS.get((dialect.name, kind), default), (beat, said)


@pytest.mark.parametrize("dialect", STREAMING, ids=IDS)
def test_content_is_understood_with_the_text_and_arguments_it_carries(dialect: Dialect):
    for scenario in CLEAN:
        script = _script(scenario.name, dialect)
        said = [e for beat in script.beats for e in _read(dialect, beat.data)]
        texts = [e.text for e in said if isinstance(e, events.Text)]
        assert "".join(texts) == "".join(scenario.reply.tokens), scenario.name
        arguments: dict[int, str] = {}
        for event in said:
            if isinstance(event, events.ToolCallArguments):
                arguments[event.index] = arguments.get(event.index, "") + event.arguments
        calls = scenario.reply.tool_calls if dialect.name != "completions" else ()  # that API has no tool calls
        if dialect.name in ("gemini", "ollama"):  # whole calls, each in its own frame, its args as an object
            sent = [json.loads(e.arguments) for e in said if isinstance(e, events.ToolCallArguments)]
            assert sent == [json.loads(call.arguments or "{}") for call in calls], scenario.name
        else:
            assert [arguments[i] for i in sorted(arguments)] == [call.arguments for call in calls if call.arguments]
        content_beats = [beat for beat in script.beats if beat.tokens]
        understood = [any(isinstance(e, events.CONTENT) for e in _read(dialect, b.data)) for b in content_beats]
        if dialect.name == "completions" and scenario.reply.tool_calls:
            # The tokens of the calls this API never sends ride on the finish beat.
            assert understood == [True] * (len(content_beats) - 1) + [False]
            assert isinstance(content_beats[-1].event, events.Finish)
        else:
            assert all(understood), scenario.name


@pytest.mark.parametrize("dialect", STREAMING, ids=IDS)
def test_usage_frames_carry_their_counts(dialect: Dialect):
    for beat in _script("text-then-tool-call", dialect).beats:
        if isinstance(beat.event, events.Usage):
            assert _read(dialect, beat.data) == [beat.event]


@pytest.mark.parametrize("dialect", STREAMING, ids=IDS)
def test_a_comment_and_the_heartbeat_say_nothing_that_counts(dialect: Dialect):
    said = dialect.understand(dialect.heartbeat)
    assert said is None or isinstance(said, events.Comment)
    if dialect.framing is SSE:
        assert dialect.understand(b": keep going\n\n") == events.Comment("keep going")


# -- real bytes (shared/wire-format.md) ---------------------------------------------------------

OPENAI_CHAT = b"".join(b'data: {"id":"chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp","object":"chat.completion.chunk",'
                       b'"created":1755137933,"model":"gpt-5-nano-2025-08-07","service_tier":"default",'
                       b'"system_fingerprint":null,"choices":[{"index":0,"delta":' + delta + b',"finish_reason":'
                       + finish + b'}],"obfuscation":"nX"}\n\n' for delta, finish in [
                           (b'{"role":"assistant","content":"","refusal":null}', b"null"),
                           (b'{"content":"Hi"}', b"null"), (b'{"content":" there"}', b"null"),
                           ('{"content":"’d"}'.encode(), b"null"), (b"{}", b'"stop"')]) + b"data: [DONE]\n\n"
_TOOL_HEAD = (b'data: {"id":"chatcmpl-CiKI","object":"chat.completion.chunk","created":1764680501,'
              b'"model":"gpt-4.1-nano-2025-04-14","service_tier":"default","system_fingerprint":"fp_1a97b5aa6c",'
              b'"usage":null,"choices":[{"index":0,"delta":')
OPENAI_TOOLS = b"".join(_TOOL_HEAD + delta + b',"logprobs":null,"finish_reason":' + finish + b'}]}\n\n' for delta, finish in [
    (b'{"role":"assistant","content":null}', b"null"),
    (b'{"tool_calls":[{"index":0,"id":"call_8wSWhuzOhClEzH8c2pYjRIiz","type":"function","function":'
     b'{"name":"get_current_weather","arguments":""}}]}', b"null"),
    (b'{"tool_calls":[{"index":0,"function":{"arguments":"{\\"fo"}}]}', b"null"),
    ('{"tool_calls":[{"index":0,"function":{"arguments":"\\"北京\\"}"}}]}'.encode(), b"null"),
    (b"{}", b'"tool_calls"'),
]) + b"data: [DONE]\n\n"
OPENAI_ERROR = (b'data: {"error":{"message":"The server had an error while processing your request. Sorry about that!",'
                b'"type":"server_error","param":null,"code":null}}\n\n')
COMPLETIONS = (
    b'data: {"id":"cmpl-CKzHhit4D82m3cp2zRTC2fpTNlJCX","object":"text_completion","created":1759118173,"choices":'
    b'[{"text":" +","index":0,"logprobs":null,"finish_reason":null}],"model":"babbage:2023-07-21-v2","usage":null}\n\n'
    b'data: {"id":"cmpl-CKzHhit4D82m3cp2zRTC2fpTNlJCX","object":"text_completion","created":1759118173,"choices":'
    b'[{"text":"       ","index":0,"logprobs":null,"finish_reason":"length"}],"model":"babbage:2023-07-21-v2",'
    b'"usage":null}\n\n'
    b'data: {"id":"cmpl-CKzHhit4D82m3cp2zRTC2fpTNlJCX","object":"text_completion","created":1759118173,'
    b'"model":"babbage:2023-07-21-v2","usage":{"prompt_tokens":31,"completion_tokens":25,"total_tokens":56},'
    b'"choices":[]}\n\n'
    b"data: [DONE]\n\n"
)
_RESPONSE = b'{"id":"resp_029acd","object":"response","created_at":1759422719,"status":"in_progress","output":[]}'
RESPONSES = b"".join(b"event: " + kind + b"\ndata: " + data + b"\n\n" for kind, data in [
    (b"response.created", b'{"type":"response.created","sequence_number":0,"response":' + _RESPONSE + b"}"),
    (b"response.in_progress", b'{"type":"response.in_progress","sequence_number":1,"response":' + _RESPONSE + b"}"),
    (b"response.output_item.added", b'{"type":"response.output_item.added","sequence_number":2,"output_index":0,'
     b'"item":{"id":"msg_029acd","type":"message","status":"in_progress","content":[],"role":"assistant"}}'),
    (b"response.content_part.added", b'{"type":"response.content_part.added","sequence_number":3,"item_id":'
     b'"msg_029acd","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],'
     b'"logprobs":[],"text":""}}'),
    (b"response.output_text.delta", b'{"type":"response.output_text.delta","sequence_number":4,"item_id":'
     b'"msg_029acd","output_index":0,"content_index":0,"delta":"Elegant","logprobs":[],"obfuscation":"sdkq1GTMZ"}'),
    (b"response.output_text.delta", b'{"type":"response.output_text.delta","sequence_number":5,"item_id":'
     b'"msg_029acd","output_index":0,"content_index":0,"delta":" language","logprobs":[],"obfuscation":"iMv0IKG"}'),
    (b"response.output_text.done", b'{"type":"response.output_text.done","sequence_number":6,"item_id":'
     b'"msg_029acd","output_index":0,"content_index":0,"text":"Elegant language","logprobs":[]}'),
    (b"response.completed", b'{"type":"response.completed","sequence_number":9,"response":{"id":"resp_029acd",'
     b'"status":"completed","output":[],"usage":{"input_tokens":12,"output_tokens":3,"total_tokens":15}}}'),
])
RESPONSES_ERROR = (
    b'event: error\ndata: {"type":"error","sequence_number":2,"error":{"type":"insufficient_quota","code":'
    b'"insufficient_quota","message":"You exceeded your current quota","param":null}}\n\n'
    b'event: response.failed\ndata: {"type":"response.failed","sequence_number":3,"response":{"status":"failed",'
    b'"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}}\n\n'
)
ANTHROPIC = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01SxRKvzSAbPKgXu4781JHjw","type":'
    b'"message","role":"assistant","model":"claude-3-sonnet-20240229","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}               }\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text",'
    b'"text":""}    }\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    b'"text":"Here"}  }\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0             }\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use",'
    b'"id":"toolu_01QRThyzKt6NibK3m1DjUTkE","name":"weather","input":{}}    }\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":""}         }\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
    b'"partial_json":"{\\"lo"}               }\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1          }\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
    b'"usage":{"output_tokens":137}          }\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"             }\n\n'
)
ANTHROPIC_ERROR = (b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
                   b'"message": "Overloaded"}}\n\n')
_GEMINI_TAIL = (b'"usageMetadata": {"promptTokenCount": 55,"candidatesTokenCount": 8,"totalTokenCount": 63},'
                b'"modelVersion": "gemini-3-pro-preview","responseId": "S1V8aZK2NpGKqtsPvPuEqAw"}\r\n\r\n')
GEMINI = GEMINI_FRAME + (
    b'data: {"candidates": [{"content": {"parts": [{"text": " is Mexico City."}],"role": "model"},"index": 0}],'
    + _GEMINI_TAIL +
    b'data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP",'
    b'"index": 0}],' + _GEMINI_TAIL
)
GEMINI_TOOL = (
    b'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_country","args": {}},'
    b'"thoughtSignature": "Et8ECtwE"}],"role": "model"},"index": 0}],' + _GEMINI_TAIL +
    b'data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP",'
    b'"index": 0}],' + _GEMINI_TAIL
)
GEMINI_ERROR = (
    b'data: {"candidates": [{"content": {"parts": [{"text": " job called","thought": true}],"role": "model"},'
    b'"index": 0}],"modelVersion": "gemma-4-31b-it","responseId": "JPozaonvK7yzvdIPrJ7FyAk"}\n\n'
    b'{\n  "error": {\n    "code": 503,\n    "message": "This model is currently experiencing high demand.",\n'
    b'    "status": "UNAVAILABLE"\n  }\n}\n'
)
OLLAMA = (
    b'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.184789Z","message":{"role":"assistant","content":"The"},'
    b'"done":false}\n'
    b'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.19314Z","message":{"role":"assistant","content":" sky"},'
    b'"done":false}\n'
    b'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.2001Z","message":{"role":"assistant","content":""},'
    b'"done":true,"done_reason":"stop","total_duration":182242375,"load_duration":41295167,"prompt_eval_count":169,'
    b'"prompt_eval_duration":24573166,"eval_count":15,"eval_duration":115959084}\n'
)
OLLAMA_TOOL = (
    b'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.19314Z","message":{"role":"assistant","content":"",'
    b'"tool_calls":[{"id":"call_k3x9a0qz","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}}]},'
    b'"done":false}\n'
    b'{"model":"llama3.2","created_at":"2025-07-07T20:22:19.2001Z","message":{"role":"assistant","content":""},'
    b'"done":true,"done_reason":"stop"}\n'
    b'{"error":"an error was encountered while running the model"}\n'
)
E = events


@pytest.mark.parametrize(("dialect", "data", "said"), [
    ("openai", OPENAI_CHAT, [E.Start(""), E.Text("Hi"), E.Text(" there"), E.Text("’d"), E.Finish("stop"), E.Done()]),
    ("openai", OPENAI_TOOLS, [E.Start(None), E.ToolCallStart(0, "call_8wSWhuzOhClEzH8c2pYjRIiz", "get_current_weather"),
                              E.ToolCallArguments(0, '{"fo'), E.ToolCallArguments(0, '"北京"}'),
                              E.Finish("tool_calls"), E.Done()]),
    ("openai", OPENAI_ERROR, [E.Error("The server had an error while processing your request. Sorry about that!",
                                      "server_error", None)]),
    ("completions", COMPLETIONS, [E.Text(" +"), E.Text("       "), E.Usage(31, 25), E.Done()]),
    ("responses", RESPONSES, [E.Start(), E.Text("Elegant"), E.Text(" language"), E.Done()]),
    ("responses", RESPONSES_ERROR, [E.Error("You exceeded your current quota", "insufficient_quota",
                                            "insufficient_quota"), E.Done()]),
    ("anthropic", ANTHROPIC, [E.Start(), E.Text("Here"), E.ToolCallStart(1, "toolu_01QRThyzKt6NibK3m1DjUTkE", "weather"),
                              E.ToolCallArguments(1, '{"lo'), E.Finish("tool_use"), E.Done()]),
    ("anthropic", ANTHROPIC_ERROR, [E.Error("Overloaded", "overloaded_error", None)]),
    ("gemini", GEMINI, [E.Text("The capital of Mexico"), E.Text(" is Mexico City."), E.Finish("STOP")]),
    ("gemini", GEMINI_TOOL, [E.ToolCallArguments(0, "{}"), E.Finish("STOP")]),
    ("gemini", GEMINI_ERROR, [E.Text(" job called"), E.Error("This model is currently experiencing high demand.",
                                                             "UNAVAILABLE", "503")]),
    ("ollama", OLLAMA, [E.Text("The"), E.Text(" sky"), E.Done()]),
    ("ollama", OLLAMA_TOOL, [E.ToolCallArguments(0, '{"city":"Tokyo"}'), E.Done(),
                             E.Error("an error was encountered while running the model")]),
], ids=["openai-text", "openai-tools", "openai-error", "completions", "responses", "responses-error", "anthropic",
        "anthropic-error", "gemini", "gemini-tool", "gemini-raw-error", "ollama", "ollama-tool-and-error"])
def test_a_real_providers_stream_is_understood(dialect: str, data: bytes, said: list[events.Event]):
    format_ = DIALECTS[dialect]
    assert _read(format_, data) == said
    assert [e for f in _fed(format_.framing, data, 5) if (e := format_.understand(f))] == said


# -- never raising ------------------------------------------------------------------------------

HOSTILE = [
    b"", b"\n", b"\r\n\r\n", b"\xff\xfe\xfd", b"data: \xff\xfe\n\n", b"\xef\xbb\xbfdata: [DONE]\n\n", b"data:\n\n",
    b"data: [1, 2]\n\n", b"data: 5\n\n", b'data: "text"\n\n', b"data: null\n\n", b"data: {\n\n", b"{", b"{}\n",
    b"[" * 100_000, b"data: " + b"[" * 100_000 + b"\n\n", b"data: " + b'{"a":' * 50_000 + b"\n\n",
    b'{"error":' * 50_000, b'data: {"choices": 5, "usage": 3}\n\n', b'data: {"choices": [5]}\n\n',
    b'data: {"choices": [{"delta": [], "text": 7, "finish_reason": 1}]}\n\n',
    b'data: {"choices": [{"delta": {"tool_calls": [5, {"index": "x", "function": 3}]}}]}\n\n',
    b'data: {"choices": [{"delta": {"tool_calls": {"index": 0}}}]}\n\n',
    b'data: {"type": "content_block_delta", "delta": [], "index": null}\n\n',
    b'data: {"type": "content_block_start", "content_block": "tool_use"}\n\n',
    b'data: {"type": "message_delta", "delta": 1, "usage": []}\n\n',
    b'data: {"type": "response.output_item.added", "item": []}\n\n', b'data: {"type": "error"}\n\n',
    b'data: {"type": ["response.created"]}\n\n', b'data: {"error": {"message": [1], "code": {}}}\n\n',
    b'data: {"error": true}\n\n', b'{"error": 5}\n', b'data: {"candidates": {"content": 1}}\r\n\r\n',
    b'data: {"candidates": [{"content": {"parts": [{"functionCall": 3}, {"text": 4}]}}]}\r\n\r\n',
    b'data: {"candidates": [{"content": {"parts": [{"functionCall": {"args": ' + b"[" * 900 + b"]" * 900
    + b"}}]}}]}\r\n\r\n",
    b'{"message": 5, "response": [], "done": "true"}\n', b'{"message": {"tool_calls": [{"function": []}]}}\n',
    b'{"index": ' + b"9" * 10_000 + b"}\n", b'data: {"choices": [{"index": 0, "delta": {"content": "\\ud800"}}]}\n\n',
    "data: {\"content\": \"naïve\"}\n\n".encode("utf-16"), b"event: x\r\r\r", b": \xff\n\n",
]


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("dialect", list(DIALECTS.values()), ids=list(DIALECTS))
def test_understanding_hostile_bytes_never_raises(dialect: Dialect, data: bytes):
    frames, rest = dialect.framing.frames(data)
    assert b"".join(frames) + rest == data
    for frame in [*frames, rest, data]:
        said = dialect.understand(frame)
        assert said is None or isinstance(said, SAID + (events.Comment,))


@pytest.mark.parametrize("dialect", list(DIALECTS.values()), ids=list(DIALECTS))
def test_understanding_random_and_mangled_frames_never_raises(dialect: Dialect):
    rng = random.Random(dialect.name)
    real = [OPENAI_CHAT, OPENAI_TOOLS, RESPONSES, ANTHROPIC, GEMINI, GEMINI_ERROR, OLLAMA, OLLAMA_TOOL]
    understood = 0
    for _ in range(3000):
        if rng.random() < 0.3:
            data = rng.randbytes(rng.randrange(64))
        else:
            data = bytearray(rng.choice(real))
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(data))
                data[at : at + rng.randrange(4)] = rng.randbytes(rng.randrange(4))
            data = bytes(data)
        frames, rest = dialect.framing.frames(data)
        assert b"".join(frames) + rest == data
        said = [dialect.understand(frame) for frame in [*frames, rest]]
        understood += sum(e is not None for e in said)
    assert understood > 0 if dialect.streams else understood == 0
