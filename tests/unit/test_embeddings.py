"""The embeddings dialect without a socket: the vectors, the body, when it is
ready, which faults apply, and request validation."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest

from mockllm import cli, pipeline
from mockllm.dialects import DIALECTS, Ask, Call, embeddings
from mockllm.errors import RequestError
from mockllm.faults import FaultSpec
from mockllm.faults.body import Malformed
from mockllm.faults.head import Status
from mockllm.scenario import Reply, Scenario, Timing

DIALECT = embeddings.DIALECT
CALL = Call(DIALECT.routes[0])


def ask(**body):
    return DIALECT.parse({"model": "text-embedding-3-small", "input": "hello", **body}, CALL)


def body_of(ask_, scenario: Scenario | None = None) -> dict:
    script = pipeline.plan(scenario or SCENARIO, ask_, DIALECT)
    return json.loads(script.body)


SCENARIO = Scenario(name="s", reply=Reply(tokens=("a", " b", " c")), timing=Timing(first_token=0.2, per_token=1.0))


def norm(values) -> float:
    return math.sqrt(math.fsum(v * v for v in values))


def test_the_dialect_is_in_the_table_on_its_route():
    assert DIALECTS["embeddings"] is DIALECT
    assert [(r.method, r.path) for r in DIALECT.routes] == [("POST", "/v1/embeddings")]


@pytest.mark.parametrize(
    ("model", "length"),
    [("text-embedding-3-small", 1536), ("text-embedding-3-large", 3072), ("text-embedding-ada-002", 1536),
     ("hello", 1536)],
)
def test_each_model_has_its_usual_length_and_every_vector_is_a_unit_vector(model, length):
    body = body_of(DIALECT.parse({"model": model, "input": "hi"}, CALL))
    [item] = body["data"]
    assert len(item["embedding"]) == length
    assert norm(item["embedding"]) == pytest.approx(1.0, abs=1e-5)


def test_the_same_text_gives_the_same_vector_and_another_text_another():
    assert embeddings.vector("hello") == embeddings.vector("hello")
    assert embeddings.vector("hello") != embeddings.vector("hello!")
    assert body_of(ask()) == body_of(ask())


def test_dimensions_keep_the_first_components_scaled_back_to_length_one():
    full = embeddings.vector("hello")
    short = embeddings.vector("hello", dimensions=8)
    scale = norm(full[:8])
    assert short == pytest.approx([v / scale for v in full[:8]], rel=1e-5)
    assert norm(short) == pytest.approx(1.0, abs=1e-6)
    assert len(body_of(ask(dimensions=8))["data"][0]["embedding"]) == 8


def test_base64_is_the_same_float32_values_little_endian():
    floats = body_of(ask(dimensions=16))["data"][0]["embedding"]
    encoded = body_of(ask(dimensions=16, encoding_format="base64"))["data"][0]["embedding"]
    assert isinstance(encoded, str)
    assert list(struct.unpack("<16f", base64.b64decode(encoded))) == floats


def test_the_body_lists_one_vector_per_input_in_order_with_usage():
    body = body_of(ask(input=["one two", "three", "four"], dimensions=4))
    assert list(body) == ["object", "data", "model", "usage"]
    assert body["object"] == "list" and body["model"] == "text-embedding-3-small"
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1), ("embedding", 2)]
    assert body["data"][1]["embedding"] == embeddings.vector("three", dimensions=4)
    assert body["usage"] == {"prompt_tokens": 2 + 1 + 1, "total_tokens": 4}


def test_token_arrays_are_embedded_by_their_json_and_counted_by_their_length():
    body = body_of(ask(input=[[5, 6, 7], [8]], dimensions=4))
    assert body["data"][0]["embedding"] == embeddings.vector("[5,6,7]", dimensions=4)
    assert body["usage"]["prompt_tokens"] == 4


def test_the_answer_is_ready_after_first_token_not_when_the_reply_would_end():
    script = pipeline.plan(SCENARIO, ask(), DIALECT, speed=2)
    assert not script.streaming
    assert script.headers_at == pytest.approx(0.1)
    assert [beat.at for beat in script.beats] == [pytest.approx(0.1)]
    assert dict(script.headers)["Content-Type"] == "application/json"


def test_a_status_fault_applies_and_stream_only_faults_are_ignored():
    limited = Scenario(name="s", reply=SCENARIO.reply, faults=(FaultSpec(Status(429)), FaultSpec(Malformed())))
    script = pipeline.plan(limited, ask(), DIALECT)
    assert script.status == 429
    assert json.loads(script.body)["error"]["code"] == "rate_limit_exceeded"
    assert dict(script.headers)["retry-after"] == "1"
    assert script.ignored == ("malformed",)


REFUSED = [
    pytest.param({"input": "x"}, "you must provide a model parameter", None, id="no-model"),
    pytest.param({"model": "m"}, "Missing required parameter: 'input'.", "input", id="no-input"),
    pytest.param({"model": "m", "input": ""}, "'$.input' is invalid.", None, id="empty-string"),
    pytest.param({"model": "m", "input": ["a", ""]}, "'$.input' is invalid.", None, id="empty-string-in-list"),
    pytest.param({"model": "m", "input": []}, "'$.input' is invalid.", None, id="empty-list"),
    pytest.param({"model": "m", "input": [[]]}, "'$.input' is invalid.", None, id="empty-token-array"),
    pytest.param({"model": "m", "input": [1, -1]}, "'$.input' is invalid.", None, id="negative-token"),
    pytest.param({"model": "m", "input": ["a", [1]]}, "'$.input' is invalid.", None, id="strings-and-tokens"),
    pytest.param({"model": "m", "input": {"a": 1}}, "'$.input' is invalid.", None, id="object"),
    pytest.param({"model": "m", "input": ["a"] * 2049}, "'$.input' is invalid.", None, id="too-many"),
    pytest.param({"model": "m", "input": "x", "encoding_format": "int8"},
                 "Invalid value: 'int8'. Supported values are: 'float' and 'base64'.", "encoding_format",
                 id="encoding"),
    pytest.param({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8},
                 "This model does not support specifying dimensions.", None, id="ada-dimensions"),
    pytest.param({"model": "text-embedding-3-small", "input": "x", "dimensions": 2000},
                 "Invalid 'dimensions': integer above maximum value. Expected a value <= 1536", "dimensions",
                 id="too-many-dimensions"),
    pytest.param({"model": "m", "input": "x", "dimensions": 0}, "Invalid 'dimensions': integer below minimum value.",
                 "dimensions", id="zero-dimensions"),
    pytest.param({"model": "m", "input": "x", "user": 3}, "Invalid type for 'user'", "user", id="user"),
]


@pytest.mark.parametrize(("body", "message", "param"), REFUSED)
def test_invalid_requests_are_refused_in_the_apis_words(body, message, param):
    with pytest.raises(RequestError) as info:
        DIALECT.parse(body, CALL)
    assert info.value.status == 400
    assert info.value.message.startswith(message)
    assert info.value.param == param
    assert info.value.type == "invalid_request_error"


def test_the_options_are_in_ask_echo_and_the_texts_in_ask_inputs():
    parsed = ask(input=["a", "b"], dimensions=3, encoding_format="base64", user="u")
    assert parsed.inputs == ("a", "b")
    assert ask(input=[[1, 2]]).inputs == ("[1,2]",)
    assert parsed.option("dimensions") == 3 and parsed.option("encoding_format") == "base64"
    assert not parsed.stream


def test_the_example_is_what_openai_python_sends():
    example = DIALECT.example("hello", "hi", stream=True)
    assert example.body == {"model": "hello", "input": "hi", "encoding_format": "base64"}
    assert DIALECT.parse(example.body, example.call).inputs == ("hi",)


def test_a_route_that_forces_a_stream_gets_the_whole_body_in_place_of_the_terminator():
    streamed = pipeline.plan(SCENARIO, Ask(model="m", prompt="hi", stream=True), DIALECT)  # a mount's Ask
    assert streamed.streaming
    body = json.loads(streamed.body)
    assert body["data"][0]["embedding"] == embeddings.vector("hi")
    assert dict(streamed.headers)["Content-Type"] == "application/json"


def test_play_prints_the_body_a_client_would_receive(capsysbinary):
    assert cli.main(["play", "hello", "--format", "embeddings", "--raw", "--no-stream", "--prompt", "hi"]) == 0
    body = json.loads(capsysbinary.readouterr().out)
    vector = struct.unpack("<1536f", base64.b64decode(body["data"][0]["embedding"]))
    assert list(vector) == embeddings.vector("hi")
