"""The legacy completions dialect without a socket: the exact bytes of every
event kind, the non-streamed body, the error shape, and request validation."""

from __future__ import annotations

import json
import random

import pytest

from mockllm import cli, events, pipeline
from mockllm.dialects import DIALECTS, Call
from mockllm.dialects import openai_completions as completions
from mockllm.errors import RequestError
from mockllm.scenario import Reply, Scenario, Timing, ToolCall

DIALECT = completions.DIALECT
CALL = Call(DIALECT.routes[0])
HEAD = b'data: {"id":"cmpl-X","object":"text_completion","created":7,'


def encoder(include_usage: bool = False) -> completions.Encoder:
    ask = completions.parse({"model": "m", "prompt": "hi", "stream": True,
                             **({"stream_options": {"include_usage": True}} if include_usage else {})})
    return completions.Encoder(ask, completion_id="cmpl-X", created=7)


FRAMES = [
    pytest.param(events.Text("Hel"), False,
                 HEAD + b'"choices":[{"text":"Hel","index":0,"logprobs":null,"finish_reason":null}],"model":"m"}\n\n',
                 id="text"),
    pytest.param(events.Text("北京 \u2028"), False,
                 HEAD + '"choices":[{"text":"北京 \u2028","index":0,"logprobs":null,"finish_reason":null}],'
                 '"model":"m"}\n\n'.encode(), id="text-raw-utf8"),
    pytest.param(events.Text("Hel"), True,
                 HEAD + b'"choices":[{"text":"Hel","index":0,"logprobs":null,"finish_reason":null}],"model":"m",'
                 b'"usage":null}\n\n', id="text-with-usage-null"),
    pytest.param(events.Finish("stop"), False,
                 HEAD + b'"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}],"model":"m"}\n\n',
                 id="finish-stop"),
    pytest.param(events.Finish("length"), False,
                 HEAD + b'"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}],"model":"m"}\n\n',
                 id="finish-length"),
    pytest.param(events.Finish("tool_calls"), False,
                 HEAD + b'"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}],"model":"m"}\n\n',
                 id="finish-tool-calls-is-stop"),
    pytest.param(events.Usage(3, 5), True,
                 HEAD + b'"model":"m","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8},'
                 b'"choices":[]}\n\n', id="usage"),
    pytest.param(events.Done(), False, b"data: [DONE]\n\n", id="done"),
    pytest.param(events.Error(), False,
                 b'data: {"error":{"message":"The server had an error while processing your request. Sorry about '
                 b'that!","type":"server_error","param":null,"code":null}}\n\n', id="error-default"),
    pytest.param(events.Error("boom", "overloaded", "x"), False,
                 b'data: {"error":{"message":"boom","type":"overloaded","param":null,"code":"x"}}\n\n',
                 id="error-given"),
    pytest.param(events.Comment("ping"), False, b": ping\n\n", id="comment"),
    pytest.param(events.Raw(b"data: {oops\n\n"), False, b"data: {oops\n\n", id="raw"),
    *(pytest.param(event, False, b"", id=type(event).__name__) for event in (
        events.Start(), events.TextStart(), events.TextEnd(), events.ToolCallStart(0, "call_1", "f"),
        events.ToolCallArguments(0, "{}"), events.ToolCallEnd(0))),
]


@pytest.mark.parametrize(("event", "include_usage", "expected"), FRAMES)
def test_each_event_kind_is_framed_as_the_api_sends_it(event, include_usage, expected):
    assert encoder(include_usage).encode(event) == expected


@pytest.mark.parametrize(("event", "include_usage", "expected"), FRAMES)
def test_bodies_and_frame_make_the_same_bytes_as_encode(event, include_usage, expected):
    (body,) = DIALECT.bodies([event])
    assert (encoder(include_usage).frame(0, body, event) if body else b"") == expected


def test_the_dialect_is_in_the_table_on_its_route():
    assert DIALECTS["completions"] is DIALECT
    assert [(r.method, r.path) for r in DIALECT.routes] == [("POST", "/v1/completions")]


def scenario(**reply) -> Scenario:
    return Scenario(name="s", reply=Reply(**reply), timing=Timing(first_token=0.1, per_token=0.01))


def test_a_clean_stream_is_tokens_then_finish_then_done():
    ask = DIALECT.parse({"model": "s", "prompt": "hi", "stream": True}, CALL)
    body = pipeline.plan(scenario(tokens=("Hel", "lo")), ask, DIALECT).body
    frames = body.split(b"\n\n")[:-1]
    assert [json.loads(f[6:])["choices"][0]["text"] for f in frames[:-1]] == ["Hel", "lo", ""]
    assert json.loads(frames[2][6:])["choices"][0]["finish_reason"] == "stop"
    assert frames[-1] == b"data: [DONE]"
    ids = {json.loads(f[6:])["id"] for f in frames[:-1]}
    assert len(ids) == 1 and ids.pop().startswith("cmpl-")


def test_a_reply_with_tool_calls_streams_its_text_only_and_finishes_with_stop():
    ask = DIALECT.parse({"model": "s", "prompt": "hi", "stream": True}, CALL)
    reply = scenario(tokens=("Let", " me"), tool_calls=(ToolCall("f", '{"a": 1}'),), finish_reason="tool_calls")
    body = pipeline.plan(reply, ask, DIALECT).body
    assert b"tool" not in body and b'"a"' not in body
    chunks = [json.loads(line[6:]) for line in body.split(b"\n\n") if line.startswith(b"data: {")]
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Let me"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_the_non_streamed_body_is_one_text_completion_with_usage():
    ask = DIALECT.parse({"model": "s", "prompt": "say hi"}, CALL)
    script = pipeline.plan(scenario(tokens=("Hel", "lo"), finish_reason="length"), ask, DIALECT)
    assert not script.streaming
    assert dict(script.headers)["Content-Type"] == "application/json"
    body = json.loads(script.body)
    assert list(body) == ["id", "object", "created", "model", "choices", "usage"]
    assert body["object"] == "text_completion" and body["model"] == "s"
    assert body["choices"] == [{"text": "Hello", "index": 0, "logprobs": None, "finish_reason": "length"}]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}


def test_streamed_headers_are_an_event_stream_without_charset():
    headers = dict(DIALECT.headers(random.Random(0), streaming=True, first_token=0.25))
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache, must-revalidate"
    assert headers["openai-processing-ms"] == "250"
    assert headers["x-request-id"].startswith("req_")


def test_the_error_body_is_openais():
    body = json.loads(DIALECT.error_body(RequestError(400, "bad", param="prompt", code="c")))
    assert body == {"error": {"message": "bad", "type": "invalid_request_error", "param": "prompt", "code": "c"}}
    limited = DIALECT.status_error(429)
    assert limited.type == "requests" and limited.code == "rate_limit_exceeded"
    assert limited.headers["retry-after"] == "1"
    assert DIALECT.status_error(503).type == "server_error"


# -- requests --------------------------------------------------------------

@pytest.mark.parametrize(
    ("prompt", "text", "tokens"),
    [
        pytest.param("one two", "one two", 2, id="string"),
        pytest.param(["one two"], "one two", 2, id="list-of-one-string"),
        pytest.param([1, 2, 3], "", 3, id="token-array"),
        pytest.param([[1, 2]], "", 2, id="list-of-one-token-array"),
    ],
)
def test_a_prompt_may_be_a_string_or_a_token_array_alone_or_in_a_list(prompt, text, tokens):
    ask = DIALECT.parse({"model": "m", "prompt": prompt}, CALL)
    assert (ask.prompt, ask.prompt_tokens, ask.stream) == (text, tokens, False)


def test_include_usage_needs_stream():
    ask = DIALECT.parse({"model": "m", "prompt": "x", "stream": True, "stream_options": {"include_usage": True}}, CALL)
    assert ask.include_usage


REFUSED = [
    pytest.param({"prompt": "x"}, "you must provide a model parameter", None, id="no-model"),
    pytest.param({"model": None, "prompt": "x"}, "you must provide a model parameter", None, id="null-model"),
    pytest.param({"model": 3, "prompt": "x"},
                 "Invalid type for 'model': expected a string, but got an integer instead.", "model", id="model-type"),
    pytest.param({"model": "m", "prompt": 3}, completions.INVALID.format("prompt"), None, id="prompt-number"),
    pytest.param({"model": "m", "prompt": []}, completions.INVALID.format("prompt"), None, id="prompt-empty-list"),
    pytest.param({"model": "m", "prompt": ["a", 1]}, completions.INVALID.format("prompt"), None, id="prompt-mixed"),
    pytest.param({"model": "m", "prompt": ["a", "b"]}, "Unsupported value: 'prompt' does not support", "prompt",
                 id="several-prompts"),
    pytest.param({"model": "m", "prompt": "x", "n": 2}, "Unsupported value: 'n' does not support 2", "n", id="n"),
    pytest.param({"model": "m", "prompt": "x", "n": 0},
                 "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.", "n",
                 id="n-zero"),
    pytest.param({"model": "m", "prompt": "x", "echo": True}, "Unsupported value: 'echo'", "echo", id="echo"),
    pytest.param({"model": "m", "prompt": "x", "logprobs": 6},
                 "Invalid 'logprobs': integer above maximum value. Expected a value <= 5, but got 6 instead.",
                 "logprobs", id="logprobs-range"),
    pytest.param({"model": "m", "prompt": "x", "temperature": 3},
                 "Invalid 'temperature': decimal above maximum value.", "temperature", id="temperature"),
    pytest.param({"model": "m", "prompt": "x", "stop": ["a"] * 5}, "Invalid 'stop': array too long.", "stop",
                 id="stop"),
    pytest.param({"model": "m", "prompt": "x", "stream": "yes"},
                 "Invalid type for 'stream': expected a boolean, but got a string instead.", "stream", id="stream"),
    pytest.param({"model": "m", "prompt": "x", "stream_options": {"include_usage": True}},
                 "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options",
                 id="stream-options-without-stream"),
]


@pytest.mark.parametrize(("body", "message", "param"), REFUSED)
def test_invalid_requests_are_refused_in_the_apis_words(body, message, param):
    with pytest.raises(RequestError) as info:
        DIALECT.parse(body, CALL)
    assert info.value.status == 400
    assert info.value.message.startswith(message)
    assert info.value.param == param


def test_the_example_is_what_openai_python_sends():
    example = DIALECT.example("hello", "hi", stream=True)
    assert example.path == "/v1/completions"
    assert example.body == {"model": "hello", "prompt": "hi", "stream": True}
    assert DIALECT.parse(example.body, example.call).model == "hello"


def test_play_prints_the_stream_a_client_would_receive(capsysbinary):
    assert cli.main(["play", "hello", "--format", "completions", "--raw", "--include-usage"]) == 0
    body = capsysbinary.readouterr().out
    frames = body.split(b"\n\n")[:-1]
    chunks = [json.loads(f.removeprefix(b"data: ")) for f in frames[:-1]]
    assert frames[-1] == b"data: [DONE]"
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == \
        "Hello! I am mockllm, a mock language model. How can I help you today?"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
