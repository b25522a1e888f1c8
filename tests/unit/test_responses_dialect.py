"""The Responses API dialect, pure: the exact bytes of every event kind, the
sequence numbers across beats of several frames, the error shape, and the
request checks in the API's words."""

from __future__ import annotations

import json
import random
import re

import pytest

from mockllm import events
from mockllm.dialects import openai_responses as responses
from mockllm.dialects.base import Ask, Response
from mockllm.errors import RequestError

DIALECT = responses.DIALECT
ASK = Ask(model="m", stream=True, include_obfuscation=False, prompt_tokens=5)
STREAM = [
    events.Start(""), events.TextStart(), events.Text("Hi"), events.Text(" “there”"), events.TextEnd(),
    events.ToolCallStart(0, "call_1", "f"), events.ToolCallArguments(0, '{"a":'), events.ToolCallArguments(0, "1}"),
    events.ToolCallEnd(0), events.Finish("tool_calls"), events.Done(),
]


def encoder(ask: Ask = ASK) -> responses.Encoder:
    return DIALECT.encoder(Response(ask, random.Random(7), 1700000000, "s", b"\x00\x01"))


def framed(stream: list[events.Event], enc: responses.Encoder) -> list[tuple[events.Event, bytes]]:
    """Each event that has a frame, with its bytes as the player writes them."""
    kept = [(event, body) for event, body in zip(stream, DIALECT.bodies(stream), strict=True) if body]
    return [(event, enc.frame(i, body, event)) for i, (event, body) in enumerate(kept)]


def frames_of(data: bytes) -> list[tuple[str, dict]]:
    out = []
    for frame in data.split(b"\n\n")[:-1]:
        head, payload = frame.split(b"\n")
        out.append((head.removeprefix(b"event: ").decode(), json.loads(payload.removeprefix(b"data: "))))
    return out


def test_every_event_kind_has_its_exact_bytes():
    enc = encoder()
    msg, fc, resp = enc.item_id("m", 0), enc.item_id("f", 1), enc.response_id
    beats = framed(STREAM, enc)
    lifecycle = json.dumps(enc.response("in_progress"), ensure_ascii=False, separators=(",", ":"))
    expected = [
        (events.Start, (
            'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
            f'"response":{lifecycle}}}\n\n'
            'event: response.in_progress\ndata: {"type":"response.in_progress","sequence_number":1,'
            f'"response":{lifecycle}}}\n\n')),
        (events.TextStart, (
            'event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":2,'
            f'"output_index":0,"item":{{"id":"{msg}","type":"message","status":"in_progress","content":[],'
            '"role":"assistant"}}\n\n'
            'event: response.content_part.added\ndata: {"type":"response.content_part.added","sequence_number":3,'
            f'"item_id":"{msg}","output_index":0,"content_index":0,'
            '"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}}\n\n')),
        (events.Text, (
            'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":4,'
            f'"item_id":"{msg}","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}}\n\n')),
        (events.Text, (
            'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":5,'
            f'"item_id":"{msg}","output_index":0,"content_index":0,"delta":" “there”","logprobs":[]}}\n\n')),
        (events.TextEnd, (
            'event: response.output_text.done\ndata: {"type":"response.output_text.done","sequence_number":6,'
            f'"item_id":"{msg}","output_index":0,"content_index":0,"text":"Hi “there”","logprobs":[]}}\n\n'
            'event: response.content_part.done\ndata: {"type":"response.content_part.done","sequence_number":7,'
            f'"item_id":"{msg}","output_index":0,"content_index":0,'
            '"part":{"type":"output_text","annotations":[],"logprobs":[],"text":"Hi “there”"}}\n\n'
            'event: response.output_item.done\ndata: {"type":"response.output_item.done","sequence_number":8,'
            f'"output_index":0,"item":{{"id":"{msg}","type":"message","status":"completed",'
            '"content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Hi “there”"}],'
            '"role":"assistant"}}\n\n')),
        (events.ToolCallStart, (
            'event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":9,'
            f'"output_index":1,"item":{{"id":"{fc}","type":"function_call","status":"in_progress",'
            '"arguments":"","call_id":"call_1","name":"f"}}\n\n')),
        (events.ToolCallArguments, (
            'event: response.function_call_arguments.delta\ndata: {"type":"response.function_call_arguments.delta",'
            f'"sequence_number":10,"item_id":"{fc}","output_index":1,"delta":"{{\\"a\\":"}}\n\n')),
        (events.ToolCallArguments, (
            'event: response.function_call_arguments.delta\ndata: {"type":"response.function_call_arguments.delta",'
            f'"sequence_number":11,"item_id":"{fc}","output_index":1,"delta":"1}}"}}\n\n')),
        # The last item's closing frames travel with the Finish (no_finish removes them).
        (events.Finish, (
            'event: response.function_call_arguments.done\ndata: {"type":"response.function_call_arguments.done",'
            f'"sequence_number":12,"item_id":"{fc}","output_index":1,"arguments":"{{\\"a\\":1}}"}}\n\n'
            'event: response.output_item.done\ndata: {"type":"response.output_item.done","sequence_number":13,'
            f'"output_index":1,"item":{{"id":"{fc}","type":"function_call","status":"completed",'
            '"arguments":"{\\"a\\":1}","call_id":"call_1","name":"f"}}\n\n')),
    ]
    assert [(type(event), data.decode()) for event, data in beats[:-1]] == expected
    done_event, done = beats[-1]
    assert isinstance(done_event, events.Done)
    [(name, completed)] = frames_of(done)
    assert name == completed["type"] == "response.completed" and completed["sequence_number"] == 14
    assert list(completed) == ["type", "sequence_number", "response"]
    body = completed["response"]
    assert (body["id"], body["status"], body["completed_at"]) == (resp, "completed", 1700000000)
    assert [item["id"] for item in body["output"]] == [msg, fc]
    assert body["output"][1]["arguments"] == '{"a":1}'
    assert body["usage"] == {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 10}


def test_obfuscation_pads_every_delta_unless_turned_off():
    stream = [events.Start(""), events.TextStart(), events.Text("Hi"), events.TextEnd(), events.Finish("stop"),
              events.Done()]
    padded = framed(stream, encoder(Ask(model="m", stream=True)))[2][1]
    assert frames_of(padded)[0][1]["obfuscation"].isalnum() or frames_of(padded)[0][1]["obfuscation"] == ""
    assert b'"logprobs":[],"obfuscation":"' in padded
    assert b"obfuscation" not in framed(stream, encoder())[2][1]


def test_a_length_finish_is_response_incomplete_with_max_output_tokens():
    stream = [events.Start(""), events.TextStart(), events.Text("Hi"), events.TextEnd(), events.Finish("length"),
              events.Done()]
    [(name, data)] = frames_of(framed(stream, encoder())[-1][1])
    assert name == "response.incomplete"
    assert data["response"]["status"] == "incomplete"
    assert data["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_sequence_numbers_are_consecutive_from_zero_and_stable_when_framed_again():
    enc = encoder()
    beats = framed(STREAM, enc)
    numbers = [data["sequence_number"] for _, frame in beats for _, data in frames_of(frame)]
    assert numbers == list(range(len(numbers)))
    kept = [(event, body) for event, body in zip(STREAM, DIALECT.bodies(STREAM), strict=True) if body]
    again = [enc.frame(i, body, event) for i, (event, body) in reversed(list(enumerate(kept)))]
    assert again[::-1] == [frame for _, frame in beats]


def test_the_in_stream_error_is_a_nested_error_event_then_response_failed():
    enc = encoder()
    framed(STREAM[:3], enc)  # three beats framed: the error takes the place of the fourth
    [(first, error), (second, failed)] = frames_of(enc.encode(events.Error(), 3))
    assert first == "error" and second == "response.failed"
    assert error == {"type": "error", "sequence_number": 5, "error": {
        "type": "server_error", "code": "server_error", "message": responses.STREAM_ERROR_MESSAGE, "param": None}}
    assert failed["sequence_number"] == 6
    assert failed["response"]["status"] == "failed" and failed["response"]["id"] == enc.response_id
    assert failed["response"]["error"] == {"code": "server_error", "message": responses.STREAM_ERROR_MESSAGE}
    [(_, custom), _] = frames_of(enc.encode(events.Error("quota!", "insufficient_quota", "insufficient_quota"), 3))
    assert custom["error"] == {"type": "insufficient_quota", "code": "insufficient_quota", "message": "quota!",
                               "param": None}


def test_the_whole_response_is_what_response_completed_carries():
    enc = encoder()
    streamed = frames_of(framed(STREAM, enc)[-1][1])[0][1]["response"]
    whole = json.loads(enc.complete([*STREAM[:-1], events.Usage(5, 5), events.Done()]))
    assert whole == streamed


def test_errors_are_in_openais_shape_with_its_statuses():
    error = DIALECT.status_error(429)
    assert error.headers["retry-after"] == "1"
    body = json.loads(DIALECT.error_body(error))
    assert body == {"error": {"message": error.message, "type": "requests", "param": None,
                              "code": "rate_limit_exceeded"}}
    assert json.loads(DIALECT.error_body(DIALECT.status_error(529)))["error"]["type"] == "server_error"


@pytest.mark.parametrize(("body", "message", "param"), [
    ({"input": "hi"}, "Missing required parameter: 'model'.", "model"),
    ({"model": 3, "input": "hi"}, "Invalid type for 'model': expected a string, but got an integer instead.",
     "model"),
    ({"model": "m", "input": 3},
     "Invalid type for 'input': expected one of a string or array of input items, but got an integer instead.",
     "input"),
    ({"model": "m", "input": [{"role": "robot", "content": "hi"}]},
     "Invalid value: 'robot'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
     "input[0].role"),
    ({"model": "m", "input": [{"role": "user"}]}, "Missing required parameter: 'input[0].content'.",
     "input[0].content"),
    ({"model": "m", "input": "hi", "max_output_tokens": 5},
     "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 5 instead.",
     "max_output_tokens"),
    ({"model": "m", "input": "hi", "temperature": 3},
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead.", "temperature"),
    ({"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "Missing required parameter: 'tools[0].name'.",
     "tools[0].name"),
    ({"model": "m", "input": "hi", "stream": "yes"},
     "Invalid type for 'stream': expected a boolean, but got a string instead.", "stream"),
    ({"model": "m", "input": "hi", "stream_options": {"include_obfuscation": False}},
     "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"),
], ids=["no-model", "model-type", "input-type", "role", "no-content", "max-output-tokens", "temperature",
        "tool-name", "stream-type", "stream-options"])
def test_requests_are_checked_as_the_api_checks_them(body, message, param):
    with pytest.raises(RequestError) as raised:
        DIALECT.parse(body, DIALECT.example("m", "", stream=True).call)
    assert (raised.value.status, raised.value.message, raised.value.param) == (400, message, param)


def test_the_prompt_is_the_last_user_text_of_the_input():
    call = DIALECT.example("m", "", stream=True).call
    ask = DIALECT.parse({"model": "m", "input": [
        {"role": "user", "content": "first"},
        {"type": "function_call_output", "call_id": "call_1", "output": "18 °C"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "last "}, {"type": "input_image"},
                                     {"type": "input_text", "text": "one"}]},
    ]}, call)
    assert (ask.prompt, ask.stream) == ("last one", False)
    assert DIALECT.parse({"model": "m", "input": "just this", "stream": True}, call).prompt == "just this"


def plainly_rendered(enc: responses.Encoder, specs: list[dict], first: int) -> bytes:
    """Frames the plain way, each frame's whole object dumped at once: what the
    encoder's skeletons, rendered once and filled per response, must equal."""
    out = []
    for number, spec in enumerate(specs, first):
        data = {"type": spec["type"], "sequence_number": number, **spec}
        if "response" in data:
            data["response"] = enc.response(**data["response"])
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        payload = re.sub(r"(?<!\\)\\u0000([mf])(\d+)", lambda m: enc.item_id(m[1], int(m[2])), payload)
        out.append(f"event: {spec['type']}\ndata: {payload}\n\n")
    return "".join(out).encode()


DELTAS = (events.Text, events.ToolCallArguments)
ECHOING = {"model": "gpt-“x”", "input": "hi", "stream": True, "instructions": "be brief", "metadata": {"k": "ü"},
           "temperature": 0.5, "tools": [{"type": "function", "name": "f"}], "store": False}


ENDINGS = {"tool-calls": [events.Finish("tool_calls")], "length": [events.Finish("length")],
           "content-filter": [events.Finish("content_filter")], "usage": [events.Finish("stop"), events.Usage(7, 9)]}


@pytest.mark.parametrize("request_body", [{"model": "m", "stream": True}, ECHOING], ids=["defaults", "echoed-fields"])
@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
def test_structural_frames_are_the_plain_json_of_their_object_in_every_response(request_body, ending):
    stream = [*STREAM[:-2], *ending, events.Done()]
    bodies = DIALECT.bodies(stream)
    # The second response reuses the first's skeletons, with its own ids, times and input tokens.
    for seed, prompt in ((1, "hi"), (2, "a longer prompt")):
        ask = DIALECT.parse({**request_body, "input": prompt}, DIALECT.example("m", "", stream=True).call)
        enc = DIALECT.encoder(Response(ask, random.Random(seed), 1700000000 + seed, "s", b"\x00\x01"))
        kept = [(event, body) for event, body in zip(stream, bodies, strict=True) if body]
        sequence = 0
        for index, (event, body) in enumerate(kept):
            framed = enc.frame(index, body, event)
            if not isinstance(event, DELTAS):
                assert framed == plainly_rendered(enc, json.loads(body), sequence)
            sequence += framed.count(b"\n\n")
    specs = responses.error_frames("quota “!”", "insufficient_quota", None)
    assert enc.encode(events.Error("quota “!”", "insufficient_quota"), len(kept)) == plainly_rendered(enc, specs, sequence)


def test_sequence_numbers_past_the_precomputed_ones_are_written_alike():
    texts = [events.Text(f"w{i}") for i in range(responses.DECIMALS + 10)]
    stream = [events.Start(""), events.TextStart(), *texts, events.TextEnd(), events.Finish("stop"), events.Done()]
    frames = [frame for _, data in framed(stream, encoder()) for frame in frames_of(data)]
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    deltas = [data["delta"] for name, data in frames if name == "response.output_text.delta"]
    assert deltas == [text.text for text in texts]
