"""The Gemini dialect's exact bytes, error shape and request validation."""

from __future__ import annotations

import json
import random

import pytest

from mockllm import events
from mockllm.dialects import DIALECTS, Message, dialect_for, gemini
from mockllm.dialects.base import Ask, Call, Response
from mockllm.errors import RequestError

DIALECT = gemini.DIALECT
TAIL = b',"modelVersion": "m","responseId": "RID"}\r\n\r\n'
HEAD = b'data: {"candidates": [{"content": {"parts": ['


def encoder(prompt_tokens: int = 5) -> gemini.Encoder:
    return gemini.Encoder(Ask(model="m", prompt_tokens=prompt_tokens), "RID")


STREAM = [
    events.Start(), events.TextStart(), events.Text("Hi"), events.TextEnd(),
    events.ToolCallStart(0, "abc", "f"), events.ToolCallArguments(0, '{"a":'), events.ToolCallArguments(0, "1}"),
    events.ToolCallEnd(0), events.Finish("tool_calls"), events.Done(),
]
FRAMES = [
    b"", b"",
    HEAD + b'{"text": "Hi"}],"role": "model"},"index": 0}]' + TAIL,
    b"", b"", b"", b"",
    HEAD + b'{"functionCall": {"name": "f","args": {"a": 1},"id": "abc"}}],"role": "model"},"index": 0}]' + TAIL,
    HEAD + b'{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 4,"totalTokenCount": 9}' + TAIL,
    b"",
]


@pytest.mark.parametrize("index", range(len(STREAM)), ids=[type(e).__name__ + str(i) for i, e in enumerate(STREAM)])
def test_exact_bytes_of_each_event_kind(index):
    bodies = DIALECT.bodies(STREAM)
    assert encoder().frame(index, bodies[index], STREAM[index]) == FRAMES[index]


@pytest.mark.parametrize(("reason", "word"), [("stop", "STOP"), ("length", "MAX_TOKENS"),
                                              ("tool_calls", "STOP"), ("content_filter", "SAFETY")])
def test_finish_reasons(reason, word):
    [body] = DIALECT.bodies([events.Finish(reason)])
    frame = encoder(2).frame(0, body, events.Finish(reason))
    chunk = json.loads(frame.removeprefix(b"data: "))
    assert chunk["candidates"][0]["finishReason"] == word
    assert chunk["usageMetadata"] == {"promptTokenCount": 2, "candidatesTokenCount": 0, "totalTokenCount": 2}


def test_a_streams_own_usage_counts_the_candidates():
    stream = [events.Text("a"), events.Finish("stop"), events.Usage(9, 7)]
    bodies = DIALECT.bodies(stream)
    assert bodies[2] == b""
    chunk = json.loads(encoder(3).frame(1, bodies[1], stream[1]).removeprefix(b"data: "))
    assert chunk["usageMetadata"]["candidatesTokenCount"] == 7


def test_in_stream_error_is_the_raw_pretty_object_with_error_first():
    raw = encoder().encode(events.Error())
    assert raw == (b'{\n  "error": {\n    "code": 503,\n    "message": "' + gemini.STREAM_ERROR_MESSAGE.encode()
                   + b'",\n    "status": "UNAVAILABLE"\n  }\n}\n')
    custom = json.loads(encoder().encode(events.Error("boom", "INTERNAL", "500")))
    assert custom == {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}


def test_comments_and_raw_bytes():
    assert encoder().encode(events.Comment("x")) == b": x\r\n\r\n"
    assert encoder().encode(events.Raw(b"zz")) == b"zz"


def test_framing_splits_and_misframes():
    frame = FRAMES[2]
    head, payload, tail = DIALECT.framing.split(frame)
    assert (head, tail) == (b"data: ", b"\r\n\r\n") and head + payload + tail == frame
    json.loads(payload)
    assert DIALECT.framing.misframed(head, payload, tail) == payload + tail


def test_non_stream_body_is_the_folded_reply_pretty_printed():
    body = encoder().complete(STREAM[:-1] + [events.Usage(5, 4)])
    assert body.endswith(b"}\n") and b'\n  "candidates": [' in body
    assert list(json.loads(body)) == ["candidates", "usageMetadata", "modelVersion", "responseId"]
    assert json.loads(body)["candidates"][0] == {
        "content": {"parts": [{"text": "Hi"}, {"functionCall": {"name": "f", "args": {"a": 1}, "id": "abc"}}],
                    "role": "model"},
        "finishReason": "STOP",
        "index": 0,
    }


@pytest.mark.parametrize(("status", "word"), [
    (400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND"),
    (408, "DEADLINE_EXCEEDED"), (409, "ABORTED"), (413, "INVALID_ARGUMENT"), (422, "INVALID_ARGUMENT"),
    (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (502, "UNAVAILABLE"), (503, "UNAVAILABLE"),
    (504, "DEADLINE_EXCEEDED"), (529, "RESOURCE_EXHAUSTED"),
])
def test_error_shape_per_status(status, word):
    body = DIALECT.error_body(DIALECT.status_error(status))
    assert body.startswith(b'{\n  "error": {\n    "code": ') and body.endswith(b"}\n")
    error = json.loads(body)["error"]
    assert (error["code"], error["status"]) == (status, word)
    assert list(error)[:3] == ["code", "message", "status"]
    assert ("details" in error) == (status == 429)


def test_429_carries_retry_info():
    details = json.loads(DIALECT.error_body(DIALECT.status_error(429)))["error"]["details"]
    assert [d["@type"].rsplit(".", 1)[1] for d in details] == ["QuotaFailure", "RetryInfo"]


def test_an_openai_style_request_error_gets_its_status_word():
    body = json.loads(DIALECT.error_body(RequestError(404, "nope")))
    assert body == {"error": {"code": 404, "message": "nope", "status": "NOT_FOUND"}}


STREAM_CALL = Call(gemini.ROUTES[0], {"model": "models/hello"}, {"alt": "sse"})


def test_parse_reads_the_model_from_the_path_and_the_prompt():
    ask = DIALECT.parse({"contents": [{"role": "user", "parts": [{"text": "one"}]},
                                      {"role": "model", "parts": [{"text": "two"}]},
                                      {"parts": [{"text": "three four"}]}]}, STREAM_CALL)
    assert (ask.model, ask.prompt, ask.stream, ask.include_usage) == ("hello", "three four", True, True)
    once = DIALECT.parse({"contents": [{"parts": [{"text": "x"}]}]}, Call(gemini.ROUTES[1], {"model": "hello"}))
    assert not once.stream


@pytest.mark.parametrize(("body", "message"), [
    ({}, "contents is not specified"),
    ({"contents": []}, "contents is not specified"),
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
    ({"contents": [{"role": "user", "parts": []}]}, "contents.parts must not be empty"),
    ({"contents": [{"parts": [{"nothing": 1}]}]}, "required oneof field 'data'"),
    ({"contents": [{"parts": [{"text": 3}]}]}, "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 3"),
    ({"contents": [{"parts": [{"functionCall": {"args": {}}}]}]}, "function_call.name: Name cannot be empty"),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": 3}},
     "temperature must be in the range [0, 2]"),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": "9"}},
     "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32)"),
    ({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"description": "d"}]}]},
     "Invalid function name"),
    ([1], "Root element must be a message"),
])
def test_validation_errors_are_invalid_argument(body, message):
    with pytest.raises(RequestError) as raised:
        DIALECT.parse(body, STREAM_CALL)
    assert raised.value.status == 400 and message in raised.value.message
    assert json.loads(DIALECT.error_body(raised.value))["error"]["status"] == "INVALID_ARGUMENT"


def test_unknown_fields_are_ignored():
    body = {"contents": [{"parts": [{"text": "x"}]}], "safetySettings": [], "whatever": 1,
            "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {}}]}]}
    assert DIALECT.parse(body, STREAM_CALL).prompt == "x"


def test_the_example_parses_and_the_table_has_the_row():
    assert DIALECTS["gemini"] is DIALECT
    for stream in (True, False):
        example = DIALECT.example("hello", "hi", stream=stream)
        assert DIALECT.parse(example.body, example.call) == Ask(
            model="hello", prompt="hi", stream=stream, include_usage=True, prompt_tokens=1,
            messages=(Message("user", "hi"),),
        )
    assert example.path == "/v1beta/models/hello:generateContent"
    assert dialect_for("/v1beta/models/nope:countTokens") is DIALECT


def test_ids():
    rng = random.Random(3)
    call_id = DIALECT.call_id(rng)
    assert len(call_id) == 8 and call_id.isalnum() and call_id == call_id.lower()
    enc = DIALECT.encoder(Response(Ask(model="m"), random.Random(3), 0, "m"))
    assert len(enc.response_id) == 23
