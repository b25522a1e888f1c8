"""Legacy completions through openai-python (``client.completions``) over a real
socket: every clean built-in scenario, and the faults as the SDK meets them
(wire-format.md §3, §7.1, §8; docs/formats/completions.md)."""

from __future__ import annotations

import json
import time

import aiohttp
import httpx2
import openai
import pytest
from openai.types import Completion

from .fault_clients import sdk
from .test_builtin_scenarios import CLEAN, each_builtin

PATH = "/v1/completions"
TOKENS = ["One", " two", " three", " four", " five"]
REPLY = f"reply: {{tokens: {TOKENS}}}\n"
TEXT = "".join(TOKENS)
FINISH = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "content_filter"}


async def collect(client: openai.AsyncOpenAI, model: str, chunks: list[Completion], **extra) -> str:
    """Stream ``model``, appending each chunk as it arrives; the text."""
    response = await client.completions.create(model=model, prompt="Tell me something.", stream=True, **extra)
    async for chunk in response:
        chunks.append(chunk)
    return texts(chunks)


def tokens_of(chunks: list[Completion]) -> list[str]:
    return [c.choices[0].text for c in chunks if c.choices and c.choices[0].text]


def texts(chunks: list[Completion]) -> str:
    return "".join(tokens_of(chunks))


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(yaml)``: a server whose scenario ``s`` is that YAML."""

    async def start(text: str):
        write_scenario("s", text)
        return await start_server([write_scenario.folder])

    return start


def faulty(faults: str) -> str:
    return REPLY + f"faults: [{faults}]\n"


# -- every clean built-in scenario -------------------------------------------------

@each_builtin
async def test_stream_reassembles_the_scenario_text_and_finish_reason(client, scenario):
    chunks: list[Completion] = []
    text = await collect(client, scenario.name, chunks)
    assert text == scenario.reply.text  # tool calls do not exist in this API: the text only
    assert all(c.object == "text_completion" and c.id.startswith("cmpl-") for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].choices[0].finish_reason == FINISH[scenario.reply.finish_reason]
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)


@each_builtin
async def test_stream_with_include_usage_ends_with_one_usage_chunk(client, scenario):
    chunks: list[Completion] = []
    text = await collect(client, scenario.name, chunks, stream_options={"include_usage": True})
    assert text == scenario.reply.text
    assert [i for i, c in enumerate(chunks) if c.choices == []] == [len(chunks) - 1]
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@each_builtin
async def test_non_streamed_completion_carries_the_whole_text(client, scenario):
    completion = await client.completions.create(model=scenario.name, prompt="Tell me something.")
    assert completion.object == "text_completion"
    assert completion.model == scenario.name
    [choice] = completion.choices
    assert choice.text == scenario.reply.text
    assert choice.index == 0 and choice.logprobs is None
    assert choice.finish_reason == FINISH[scenario.reply.finish_reason]
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_the_builtin_library_has_clean_scenarios_with_and_without_tool_calls():
    assert any(s.reply.tool_calls for s in CLEAN) and any(not s.reply.tool_calls for s in CLEAN)


async def test_the_stream_is_an_event_stream_without_charset_ending_in_done(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + PATH, json={"model": "hello", "prompt": "hi", "stream": True}) as r:
            body = await r.read()
            assert r.headers["Content-Type"] == "text/event-stream"
            assert r.headers["Cache-Control"] == "no-cache, must-revalidate"
    assert body.endswith(b"data: [DONE]\n\n")
    first = json.loads(body.split(b"\n\n")[0].removeprefix(b"data: "))
    assert list(first) == ["id", "object", "created", "choices", "model"]


# -- faults --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("mode", "cause"),
    [pytest.param("reset", httpx2.ReadError, id="reset"), pytest.param("close", httpx2.RemoteProtocolError, id="close")],
)
async def test_drop_mid_stream_raises_a_connection_error_after_the_tokens_before_it(serve, mode, cause):
    server = await serve(faulty(f"{{drop: {{after: 3, mode: {mode}}}}}"))
    async with sdk(server) as client:
        for _ in range(5):
            chunks: list[Completion] = []
            with pytest.raises(openai.APIConnectionError) as info:
                await collect(client, "s", chunks)
            assert type(info.value) is openai.APIConnectionError
            assert isinstance(info.value.__cause__, cause)
            assert tokens_of(chunks) == TOKENS[:3]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        pytest.param("invalid_json", json.JSONDecodeError, id="invalid_json"),
        pytest.param("truncated_json", json.JSONDecodeError, id="truncated_json"),
        pytest.param("bad_utf8", UnicodeDecodeError, id="bad_utf8"),
    ],
)
async def test_malformed_chunk_raises_a_raw_decode_error_after_the_tokens_before_it(serve, kind, error):
    server = await serve(faulty(f"{{malformed: {{after: 2, kind: {kind}}}}}"))
    chunks: list[Completion] = []
    async with sdk(server) as client:
        with pytest.raises(error):
            await collect(client, "s", chunks)
    assert tokens_of(chunks) == TOKENS[:2]


async def test_malformed_without_data_prefix_loses_one_token_silently(serve):
    server = await serve(faulty("{malformed: {after: 2, kind: no_data_prefix}}"))
    async with sdk(server) as client:
        assert await collect(client, "s", []) == "".join(TOKENS[:2] + TOKENS[3:])


async def test_error_event_raises_api_error_with_its_message_after_the_tokens_before_it(serve):
    server = await serve(faulty("{error_event: {after: 2, message: boom}}"))
    chunks: list[Completion] = []
    async with sdk(server) as client:
        with pytest.raises(openai.APIError) as info:
            await collect(client, "s", chunks)
    assert info.value.message == "boom"
    assert tokens_of(chunks) == TOKENS[:2]


async def test_error_event_defaults_to_openais_server_error(serve):
    server = await serve(faulty("{error_event: {after: 1}}"))
    async with sdk(server) as client:
        with pytest.raises(openai.APIError) as info:
            await collect(client, "s", [])
    assert info.value.message.startswith("The server had an error")
    assert info.value.body["type"] == "server_error"


async def test_429_twice_then_ok_is_absorbed_by_the_sdk_retries(serve):
    limited = "{faults: [{status: {code: 429, headers: {retry-after-ms: 10}}}]}"
    server = await serve(REPLY + f"attempts:\n  - {limited}\n  - {limited}\n  - {{faults: []}}\n")
    async with sdk(server, max_retries=2) as client:
        response = await client.completions.with_raw_response.create(model="s", prompt="hi", stream=True)
        chunks = [chunk async for chunk in response.parse()]
    assert response.retries_taken == 2
    assert response.headers["X-Mockllm-Attempt"] == "3"
    assert texts(chunks) == TEXT


async def test_429_without_retries_is_a_rate_limit_error_in_openais_shape(serve):
    server = await serve(faulty("{status: {code: 429}}"))
    async with sdk(server) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.completions.create(model="s", prompt="hi")
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_stall_times_the_sdk_out_after_the_tokens_before_it(serve):
    server = await serve(faulty("{stall: {after: 2, for: 30s}}"))
    chunks: list[Completion] = []
    async with sdk(server, timeout=1.0) as client:
        started = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            await collect(client, "s", chunks)
        assert time.perf_counter() - started >= 0.95
    assert tokens_of(chunks) == TOKENS[:2]


async def test_no_done_and_no_finish_complete_without_an_error(serve, start_server, write_scenario):
    write_scenario("nodone", faulty("no_done"))
    write_scenario("nofinish", faulty("no_finish"))
    server = await start_server([write_scenario.folder])
    async with sdk(server) as client:
        chunks: list[Completion] = []
        assert await collect(client, "nodone", chunks) == TEXT
        assert chunks[-1].choices[0].finish_reason == "stop"
        chunks = []
        assert await collect(client, "nofinish", chunks) == TEXT
        assert all(c.choices[0].finish_reason is None for c in chunks)


# -- requests ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("extra", "message", "param"),
    [
        pytest.param({"prompt": 3}, "'$.prompt' is invalid.", None, id="prompt"),
        pytest.param({"prompt": "x", "n": 2}, "Unsupported value: 'n' does not support 2", "n", id="n"),
        pytest.param({"prompt": "x", "temperature": 9}, "Invalid 'temperature'", "temperature", id="temperature"),
        pytest.param({"prompt": "x", "stream_options": {"include_usage": True}},
                     "The 'stream_options' parameter is only allowed", "stream_options", id="stream-options"),
    ],
)
async def test_invalid_requests_are_bad_request_errors_in_openais_shape(client, extra, message, param):
    with pytest.raises(openai.BadRequestError) as info:
        await client.completions.create(model="hello", **extra)
    assert info.value.status_code == 400
    assert info.value.body["message"].startswith(message)
    assert info.value.body["param"] == param
    assert info.value.body["type"] == "invalid_request_error"


async def test_a_missing_model_is_refused_in_the_legacy_words(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + PATH, json={"prompt": "hi"}) as r:
            assert r.status == 400
            body = await r.json()
    assert body == {"error": {"message": "you must provide a model parameter", "type": "invalid_request_error",
                              "param": None, "code": None}}


async def test_the_prompt_selects_a_scenario_by_its_match_rule(client):
    completion = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="write me a poem please")
    poem = next(s for s in CLEAN if s.name == "poem")
    assert completion.choices[0].text == poem.reply.text


async def test_eventsource_in_this_format_numbers_text_completion_chunks(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.get(builtin.url + "/v1/stream/hello?format=completions") as r:
            body = await r.read()
    frames = [f for f in body.split(b"\n\n") if b"data: {" in f]
    assert all(f.startswith(b"id: ") for f in frames)
    chunks = [json.loads(f.split(b"data: ", 1)[1]) for f in frames]
    assert {c["object"] for c in chunks} == {"text_completion"}
    hello = next(s for s in CLEAN if s.name == "hello")
    assert "".join(c["choices"][0]["text"] for c in chunks) == hello.reply.text
