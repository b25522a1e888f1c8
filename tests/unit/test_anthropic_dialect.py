"""Anthropic Messages: the exact bytes of each event kind, and the error shape."""

from __future__ import annotations

import json
import random

import pytest

from mockllm import events
from mockllm.dialects.anthropic import DIALECT, Encoder
from mockllm.dialects.base import Ask, Response
from mockllm.errors import RequestError

STREAM = [
    events.Start(""), events.TextStart(), events.Text("Hi"), events.TextEnd(),
    events.ToolCallStart(0, "toolu_1", "f"), events.ToolCallArguments(0, '{"a":1}'), events.ToolCallEnd(0),
    events.Finish("tool_calls"), events.Usage(5, 3), events.Done(),
]
EXPECTED = [
    b"message_start",
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hi"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
    b'"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
    b'"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":1}"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use",'
    b'"stop_sequence":null},"usage":{"output_tokens":3}}\n\n',
    b"",
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


@pytest.mark.parametrize(("index", "event"), list(enumerate(STREAM)), ids=[type(e).__name__ for e in STREAM])
def test_each_event_has_the_apis_exact_frame(index, event):
    assert DIALECT.bodies(STREAM)[index] == EXPECTED[index]


def test_every_frame_names_its_type_in_the_event_line():
    for body in DIALECT.bodies(STREAM):
        if body.startswith(b"event: "):
            name, data = body.split(b"\n")[:2]
            assert json.loads(data.removeprefix(b"data: "))["type"] == name.removeprefix(b"event: ").decode()


def test_message_start_is_the_responses_own_with_a_ping_after_it():
    ask = Ask(model="hello", stream=True, prompt_tokens=7)
    encoder = DIALECT.encoder(Response(ask, random.Random(0), 0, "hello"))
    assert isinstance(encoder, Encoder)
    frame = encoder.frame(0, b"message_start", events.Start(""))
    start, ping = frame.split(b"\n\n")[:2]
    message = json.loads(start.split(b"data: ")[1])["message"]
    assert message["id"].startswith("msg_01") and message["model"] == "hello"
    assert message["usage"]["input_tokens"] == 7
    assert ping == b'event: ping\ndata: {"type": "ping"}'


def test_the_in_stream_error_is_an_overloaded_error_unless_told_otherwise():
    assert DIALECT.bodies([events.Error()]) == [
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n']
    [custom] = DIALECT.bodies([events.Error("boom", "api_error")])
    assert json.loads(custom.split(b"data: ")[1])["error"] == {"type": "api_error", "message": "boom"}


@pytest.mark.parametrize(("status", "kind"), [(400, "invalid_request_error"), (401, "authentication_error"),
                                             (403, "permission_error"), (404, "not_found_error"),
                                             (413, "request_too_large"), (429, "rate_limit_error"),
                                             (500, "api_error"), (529, "overloaded_error")])
def test_errors_have_the_apis_shape_and_type_for_their_status(status, kind):
    body = json.loads(DIALECT.error_body(RequestError(status, "No.")))
    assert body["type"] == "error" and body["error"] == {"type": kind, "message": "No."}
    assert body["request_id"].startswith("req_")
    assert DIALECT.status_error(status).type == kind


def test_a_429_sends_retry_after_and_the_rate_limit_headers():
    headers = DIALECT.status_error(429).headers
    assert headers["retry-after"] == "1"
    assert {"anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-tokens-reset"} <= set(headers)
