"""Embeddings through openai-python (``client.embeddings``) over a real socket:
the default base64 (which the SDK decodes) and ``float``, determinism, unit
length, ``dimensions``, several inputs, validation errors, and the faults that
act before a body (docs/formats/embeddings.md)."""

from __future__ import annotations

import math

import aiohttp
import openai
import pytest

from .fault_clients import sdk

PATH = "/v1/embeddings"
MODEL = "text-embedding-3-small"


def norm(values) -> float:
    return math.sqrt(math.fsum(v * v for v in values))


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(yaml)``: a server whose only scenario, ``s``, is the default."""

    async def start(text: str):
        write_scenario("s", "reply: {text: unused}\n" + text)
        return await start_server([write_scenario.folder], default="s")

    return start


async def test_the_default_base64_is_decoded_by_the_sdk_into_the_float_vector(client):
    decoded = await client.embeddings.create(model=MODEL, input="hello world")
    floats = await client.embeddings.create(model=MODEL, input="hello world", encoding_format="float")
    assert decoded.data[0].embedding == floats.data[0].embedding
    assert len(floats.data[0].embedding) == 1536
    assert all(isinstance(v, float) for v in decoded.data[0].embedding)


async def test_the_sdk_asks_for_base64_unless_told_otherwise(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + PATH, json={"model": MODEL, "input": "hi", "encoding_format": "base64"}) as r:
            assert isinstance((await r.json())["data"][0]["embedding"], str)
        async with session.post(builtin.url + PATH, json={"model": MODEL, "input": "hi"}) as r:
            assert r.headers["Content-Type"] == "application/json"
            assert isinstance((await r.json())["data"][0]["embedding"], list)  # the API's default is float


async def test_the_same_text_gives_the_same_unit_vector_and_another_text_another(client):
    first = (await client.embeddings.create(model=MODEL, input="same")).data[0].embedding
    again = (await client.embeddings.create(model=MODEL, input="same")).data[0].embedding
    other = (await client.embeddings.create(model=MODEL, input="other")).data[0].embedding
    assert first == again
    assert first != other
    assert norm(first) == pytest.approx(1.0, abs=1e-5)
    assert norm(other) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("model", "length"), [("text-embedding-3-large", 3072), ("text-embedding-ada-002", 1536),
                                               ("some-other-model", 1536)])
async def test_each_model_has_its_usual_length(client, model, length):
    result = await client.embeddings.create(model=model, input="hi")
    assert len(result.data[0].embedding) == length
    assert result.model == model


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_dimensions_shorten_the_vector_to_a_unit_vector_along_its_start(client, encoding):
    full = (await client.embeddings.create(model=MODEL, input="hello", encoding_format="float")).data[0].embedding
    short = (await client.embeddings.create(model=MODEL, input="hello", dimensions=64)).data[0].embedding
    if encoding == "float":
        short = (await client.embeddings.create(
            model=MODEL, input="hello", dimensions=64, encoding_format="float")).data[0].embedding
    assert len(short) == 64
    assert norm(short) == pytest.approx(1.0, abs=1e-5)
    scale = norm(full[:64])
    assert short == pytest.approx([v / scale for v in full[:64]], rel=1e-4, abs=1e-6)


async def test_a_list_of_inputs_gets_one_vector_each_in_order(client):
    texts = ["alpha", "beta gamma", "alpha"]
    result = await client.embeddings.create(model=MODEL, input=texts, dimensions=8)
    assert [d.index for d in result.data] == [0, 1, 2]
    single = [(await client.embeddings.create(model=MODEL, input=t, dimensions=8)).data[0].embedding for t in texts]
    assert [d.embedding for d in result.data] == single
    assert result.data[0].embedding == result.data[2].embedding
    assert result.usage.prompt_tokens == result.usage.total_tokens == 4


async def test_token_arrays_are_accepted(client):
    result = await client.embeddings.create(model=MODEL, input=[[1, 2, 3], [4]], dimensions=4)
    assert len(result.data) == 2
    assert result.usage.prompt_tokens == 4


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        pytest.param({"model": MODEL, "input": ""}, "'$.input' is invalid. Please check the API reference", None,
                     id="empty-string"),
        pytest.param({"model": MODEL, "input": ["a", 1]}, "'$.input' is invalid.", None, id="mixed-list"),
        pytest.param({"model": "text-embedding-ada-002", "input": "a", "dimensions": 8},
                     "This model does not support specifying dimensions.", None, id="ada-dimensions"),
        pytest.param({"model": MODEL, "input": "a", "dimensions": 1537},
                     "Invalid 'dimensions': integer above maximum value.", "dimensions", id="dimensions-too-large"),
        pytest.param({"model": MODEL, "input": "a", "encoding_format": "int8"},
                     "Invalid value: 'int8'. Supported values are: 'float' and 'base64'.", "encoding_format",
                     id="encoding-format"),
    ],
)
async def test_invalid_requests_are_bad_request_errors_in_openais_shape(client, body, message, param):
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(**body)
    assert info.value.status_code == 400
    assert info.value.body["message"].startswith(message)
    assert info.value.body["param"] == param
    assert info.value.body["type"] == "invalid_request_error"


async def test_missing_model_and_input_are_refused_as_the_api_refuses_them(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + PATH, json={"input": "hi"}) as r:
            assert r.status == 400
            assert (await r.json())["error"]["message"] == "you must provide a model parameter"
        async with session.post(builtin.url + PATH, json={"model": MODEL}) as r:
            assert r.status == 400
            assert (await r.json())["error"] == {"message": "Missing required parameter: 'input'.",
                                                 "type": "invalid_request_error", "param": "input",
                                                 "code": "missing_required_parameter"}


# -- faults --------------------------------------------------------------------

LIMITED = "{faults: [{status: {code: 429, headers: {retry-after-ms: 10}}}]}"


async def test_429_twice_then_ok_is_absorbed_by_the_sdk_retries(serve):
    server = await serve(f"attempts:\n  - {LIMITED}\n  - {LIMITED}\n  - {{faults: []}}\n")
    async with sdk(server, max_retries=2) as client:
        response = await client.embeddings.with_raw_response.create(model=MODEL, input="hi")
        result = response.parse()
    assert response.retries_taken == 2
    assert response.headers["X-Mockllm-Attempt"] == "3"
    assert len(result.data[0].embedding) == 1536


async def test_429_on_every_attempt_is_a_rate_limit_error_with_openais_headers(serve):
    server = await serve(f"attempts:\n  - {LIMITED}\n")
    async with sdk(server, max_retries=1) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.embeddings.create(model=MODEL, input="hi")
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert info.value.response.headers["X-Mockllm-Attempt"] == "2"
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_a_drop_is_a_connection_error_with_no_response(serve):
    server = await serve("faults: [{drop: {mode: reset}}]\n")
    async with sdk(server) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.embeddings.create(model=MODEL, input="hi")


async def test_a_proxy_page_is_an_error_the_sdk_cannot_parse(serve):
    server = await serve("faults: [{content_type: {status: 502}}]\n")
    async with sdk(server) as client:
        with pytest.raises(openai.InternalServerError) as info:
            await client.embeddings.create(model=MODEL, input="hi")
    assert info.value.status_code == 502


async def test_stream_only_faults_are_ignored_and_the_body_arrives(serve):
    server = await serve("faults: [{malformed: {after: 0}}, {error_event: {after: 0}}, no_done]\n")
    async with sdk(server) as client:
        response = await client.embeddings.with_raw_response.create(model=MODEL, input="hi")
    assert len(response.parse().data[0].embedding) == 1536
    assert "X-Mockllm-Faults" not in response.headers


async def test_slow_headers_past_the_timeout_time_the_sdk_out(serve):
    server = await serve("faults: [{slow_headers: {delay: 5s}}]\n")
    async with sdk(server, timeout=0.5) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.embeddings.create(model=MODEL, input="hi")


async def test_the_model_selects_a_scenario_by_name(start_server, write_scenario):
    write_scenario("limited", "reply: {text: unused}\nfaults: [{status: {code: 503}}]\n")
    write_scenario("fine", "reply: {text: unused}\n")
    server = await start_server([write_scenario.folder], default="fine")
    async with sdk(server) as client:
        assert len((await client.embeddings.create(model="any-model", input="hi")).data) == 1
        with pytest.raises(openai.InternalServerError) as info:
            await client.embeddings.create(model="limited", input="hi")
    assert info.value.status_code == 503


async def test_a_200_html_page_breaks_the_sdks_base64_decoding_with_a_raw_attribute_error(serve):
    """The SDK hands a non-JSON body back as a string, and the post-parser that
    decodes base64 vectors then reads ``.data`` off it: not an openai exception."""
    server = await serve("faults: [content_type]\n")
    async with sdk(server) as client:
        with pytest.raises(AttributeError, match="'str' object has no attribute 'data'"):
            await client.embeddings.create(model=MODEL, input="hi")
