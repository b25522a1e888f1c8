"""The Ollama dialect's exact bytes: one line per event kind on each route, the
done line, the error shape, the status errors and request parsing. Pure."""

from __future__ import annotations

import json
import random

import pytest

from mockllm import events
from mockllm.dialects import DIALECTS, Ask, Call, Message, Response
from mockllm.dialects.ollama import DIALECT, HEARTBEAT
from mockllm.errors import RequestError
from mockllm.faults.body import _broken

CREATED = 1_780_000_000  # 2026-05-28T20:26:40Z
HEAD = b'{"model":"m","created_at":"2026-05-28T20:26:40Z",'
CALL = events.ToolCallStart(0, "call_abc12345", "get_weather")
METRICS = (b'"total_duration":73598938,"load_duration":41295167,"prompt_eval_count":3,'
           b'"prompt_eval_duration":24573166,"eval_count":1,"eval_duration":7730605}\n')


def ask(route: str = "chat", *, model: str = "m", prompt_tokens: int = 3) -> Ask:
    return Ask(model=model, stream=True, prompt_tokens=prompt_tokens, echo=(("route", route), ("model", model)))


def lines(stream: list[events.Event], route: str = "chat") -> list[bytes]:
    """The frames of a stream on ``route``, as the player writes them."""
    encoder = DIALECT.encoder(Response(ask(route), random.Random(0), CREATED, "s"))
    pairs = [(body, event) for body, event in zip(DIALECT.bodies(stream), stream) if body]
    return [encoder.frame(i, body, event) for i, (body, event) in enumerate(pairs)]


STREAM = [events.Start(""), events.TextStart(), events.Text("Hi <b>&"), events.TextEnd(), CALL,
          events.ToolCallArguments(0, '{"city": '), events.ToolCallArguments(0, '"Paris"}'), events.ToolCallEnd(0),
          events.Finish("tool_calls"), events.Done()]


def test_a_chat_stream_is_one_line_per_token_a_whole_call_and_the_done_line():
    assert lines(STREAM) == [
        HEAD + b'"message":{"role":"assistant","content":"Hi \\u003cb\\u003e\\u0026"},"done":false}\n',
        HEAD + b'"message":{"role":"assistant","content":"","tool_calls":[{"id":"call_abc12345",'
               b'"function":{"index":0,"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":false}\n',
        HEAD + b'"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",'
               b'"total_duration":96790753,"load_duration":41295167,"prompt_eval_count":3,'
               b'"prompt_eval_duration":24573166,"eval_count":4,"eval_duration":30922420}\n',
    ]


def test_a_generate_stream_says_response_and_its_done_line_carries_a_context():
    stream = [events.Start(""), events.Text("Hi"), events.Finish("length"), events.Done()]
    assert lines(stream, "generate") == [
        HEAD + b'"response":"Hi","done":false}\n',
        HEAD + b'"response":"","done":true,"done_reason":"length","context":[7919,15838,23757],' + METRICS,
    ]


def test_a_call_on_generate_is_an_empty_response_line():
    assert lines(STREAM, "generate")[1] == HEAD + b'"response":"","done":false}\n'


@pytest.mark.parametrize(
    ("event", "body"),
    [
        (events.Start(""), b""),
        (events.TextStart(), b""),
        (events.TextEnd(), b""),
        (events.ToolCallStart(0, "call_x", "f"), b""),
        (events.ToolCallArguments(0, "{}"), b""),
        (events.Finish("stop"), b""),
        (events.Usage(1, 2), b""),
        (events.Error(), b'{"error":"an error was encountered while running the model"}\n'),
        (events.Error("boom", "server_error", "x"), b'{"error":"boom"}\n'),
        (events.Comment("ping"), HEARTBEAT),
        (events.Raw(b"raw\n"), b"raw\n"),
    ],
    ids=["start", "text-start", "text-end", "call-start", "call-arguments", "finish", "usage", "error",
         "error-with-message", "comment", "raw"],
)
def test_events_without_a_line_of_their_own_and_the_lines_of_the_rest(event, body):
    encoder = DIALECT.encoder(Response(ask(), random.Random(0), CREATED, "s"))
    assert encoder.encode(event) == body


def test_without_a_finish_the_done_line_has_no_done_reason():
    stream = [events.Start(""), events.Text("Hi"), events.Done()]
    assert lines(stream)[-1] == HEAD + b'"message":{"role":"assistant","content":""},"done":true,' + METRICS


def test_a_usage_event_gives_the_done_lines_counts():
    stream = [events.Text("Hi"), events.Finish("stop"), events.Usage(7, 9), events.Done()]
    done = json.loads(lines(stream)[-1])
    assert (done["prompt_eval_count"], done["eval_count"]) == (7, 9)


def test_the_heartbeat_parses_as_an_empty_chunk_on_both_routes():
    line = json.loads(HEARTBEAT)
    assert line == {"message": {"role": "assistant", "content": ""}, "response": "", "done": False}
    assert HEARTBEAT.endswith(b"}\n") and b"\n" not in HEARTBEAT[:-1]


def test_the_non_stream_body_is_the_done_line_with_the_whole_message():
    encoder = DIALECT.encoder(Response(ask(), random.Random(0), CREATED, "s"))
    body = encoder.complete([*STREAM[:-2], events.Finish("stop"), events.Usage(3, 4), events.Done()])
    assert body == (HEAD + b'"message":{"role":"assistant","content":"Hi \\u003cb\\u003e\\u0026","tool_calls":'
                    b'[{"id":"call_abc12345","function":{"index":0,"name":"get_weather","arguments":'
                    b'{"city":"Paris"}}}]},"done":true,"done_reason":"stop","total_duration":96790753,'
                    b'"load_duration":41295167,"prompt_eval_count":3,"prompt_eval_duration":24573166,'
                    b'"eval_count":4,"eval_duration":30922420}')


def test_go_escapes_the_javascript_line_ends_but_not_next_line():
    body = DIALECT.bodies([events.Text("a\u2028b\u2029c\x85d")])[0]
    assert body == '"a\\u2028b\\u2029c\x85d"'.encode()


# -- faults in NDJSON -----------------------------------------------------------------------


LINE = HEAD + b'"response":"Hi","done":false}\n'


@pytest.mark.parametrize(
    ("kind", "broken"),
    [
        ("invalid_json", LINE[:-2] + b",}\n"),
        ("no_data_prefix", b"data: " + LINE),
        ("wrong_schema", b'{"foo":"bar"}\n'),
    ],
)
def test_malformed_breaks_one_line_and_keeps_its_newline(kind, broken):
    assert _broken(LINE, kind, events.Text("Hi"), DIALECT.framing) == broken


# -- errors ---------------------------------------------------------------------------------


def test_the_error_body_is_one_compact_object():
    assert DIALECT.error_body(RequestError(404, 'model "x" not found')) == b'{"error":"model \\"x\\" not found"}'


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529])
def test_every_status_has_a_message_and_a_429_says_when_to_retry(status):
    error = DIALECT.status_error(status)
    assert error.status == status and error.message
    assert ("retry-after" in error.headers) == (status == 429)


def test_the_status_messages_are_ollamas():
    assert DIALECT.status_error(503).message.startswith("server busy, please try again.")
    assert DIALECT.status_error(500).message == "an error was encountered while running the model"
    assert DIALECT.status_error(529).message == "error 529"


# -- requests -------------------------------------------------------------------------------


def parse(body: object, kind: str = "chat") -> Ask:
    route = next(r for r in DIALECT.routes if r.kind == kind)
    return DIALECT.parse(body, Call(route))


def test_stream_is_on_unless_it_is_false():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert parse(body).stream is True
    assert parse({**body, "stream": None}).stream is True
    assert parse({**body, "stream": False}).stream is False


def test_the_prompt_is_the_last_user_message_or_the_generate_prompt():
    messages = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "x"},
                {"role": "user", "content": "two"}, {"role": "tool", "content": "y"}]
    assert parse({"model": "m", "messages": messages}).prompt == "two"
    assert parse({"model": "m", "prompt": "three"}, "generate").prompt == "three"


def test_a_tagged_name_selects_the_bare_scenario_and_is_echoed_as_sent():
    asked = parse({"model": "hello:latest", "messages": []})
    assert asked.model == "hello"
    assert asked.option("model") == "hello:latest"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "model is required"),
        ({"model": "", "messages": []}, "model is required"),
        ("hi", "json: cannot unmarshal string into Go value of type api.ChatRequest"),
        ({"model": 1}, "json: cannot unmarshal number into Go struct field ChatRequest.model of type string"),
        ({"model": "m", "messages": ["hi"]},
         "json: cannot unmarshal string into Go struct field ChatRequest.messages of type api.Message"),
        ({"model": "m", "messages": [{"role": 1}]},
         "json: cannot unmarshal number into Go struct field ChatRequest.messages.role of type string"),
        ({"model": "m", "options": []},
         "json: cannot unmarshal array into Go struct field ChatRequest.options of type map[string]interface {}"),
        ({"model": "m", "top_logprobs": -1}, "top_logprobs must be between 0 and 20"),
    ],
)
def test_a_bad_chat_request_is_refused_in_the_servers_words(body, message):
    with pytest.raises(RequestError) as caught:
        parse(body)
    assert (caught.value.status, caught.value.message) == (400, message)


def test_unknown_fields_are_ignored():
    assert parse({"model": "m", "prompt": "p", "think": True, "keep_alive": "5m", "x": 1}, "generate").model == "m"


def test_the_call_ids_are_the_servers_shape():
    call_id = DIALECT.call_id(random.Random(1))
    assert call_id.startswith("call_") and len(call_id) == 13 and call_id[5:].isalnum() and call_id.islower()


def test_the_dialect_is_in_the_table_and_its_example_parses():
    assert DIALECTS["ollama"] is DIALECT
    example = DIALECT.example("hello", "hi", stream=False)
    assert example.path == "/api/chat"
    assert DIALECT.parse(example.body, example.call) == Ask(
        model="hello", prompt="hi", stream=False, prompt_tokens=5, echo=(("route", "chat"), ("model", "hello")),
        messages=(Message("user", "hi"),))
