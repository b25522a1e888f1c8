"""The stand-in upstream (``upstream.py``) is what the real providers are to
the official SDKs: openai, anthropic, google-genai and ollama stream the recorded
replies from it and assemble the text, tool calls and usage the captures
hold; its errors meet them as the real ones do; its bytes on the wire are the
recorded bytes, one frame per write, ``gap`` apart.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import aiohttp
import anthropic
import ollama
import openai
import pytest
from google import genai
from google.genai import errors, types

from .upstream import KEYS, RECORDINGS, STREAMS, body, closed_port_url
from .upstream_recordings import ANTHROPIC_JOKE, ANTHROPIC_WEATHER, GEMINI_COUNTRY, OLLAMA_WEATHER, OPENAI_WEATHER

CHAT = "/v1/chat/completions"
GEMINI_STREAM = "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def openai_sdk(upstream, **options) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=upstream.url + "/v1", api_key=options.pop("api_key", KEYS["openai"]), **options)


def anthropic_sdk(upstream, **options) -> anthropic.AsyncAnthropic:
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=upstream.url, api_key=options.pop("api_key", KEYS["anthropic"]),
                                    **options)


def gemini_sdk(upstream, api_key: str = KEYS["gemini"], **options) -> genai.Client:
    """The sync client (run off the loop): with aiohttp installed the async one takes its aiohttp path."""
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(
        base_url=upstream.url, api_version="v1beta", **options))


@pytest.fixture
async def ollama_sdk(real_upstream):
    """The async Ollama client on the stand-in (no key: a local Ollama asks for none)."""
    client = ollama.AsyncClient(host=real_upstream.url)
    yield client
    await client.close()


async def openai_stream(sdk: openai.AsyncOpenAI, prompt: str, **options) -> list:
    stream = await sdk.chat.completions.create(model="gpt-5-nano", messages=user(prompt), stream=True, **options)
    return [chunk async for chunk in stream]


def openai_text(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --- OpenAI -------------------------------------------------------------------


async def test_openai_sdk_streams_the_recorded_text_and_finish(real_upstream):
    async with openai_sdk(real_upstream) as sdk:
        chunks = await openai_stream(sdk, "Hello!")
    assert openai_text(chunks) == "Hi there’d"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in chunks} == {"chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp"}
    (seen,) = real_upstream.requests
    assert (seen.method, seen.path) == ("POST", CHAT)
    assert seen.headers["Authorization"] == f"Bearer {KEYS['openai']}"
    assert seen.json["messages"] == user("Hello!")


async def test_openai_sdk_reads_the_usage_chunk_of_an_include_usage_stream(real_upstream):
    async with openai_sdk(real_upstream) as sdk:
        chunks = await openai_stream(sdk, "Tell me a joke", stream_options={"include_usage": True})
    assert openai_text(chunks) == "Why"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 18, 29)
    assert real_upstream.requests[0].json["stream_options"] == {"include_usage": True}


async def test_openai_sdk_assembles_two_parallel_tool_calls(real_upstream):
    async with openai_sdk(real_upstream) as sdk:
        chunks = await openai_stream(sdk, OPENAI_WEATHER.prompt, stream_options={"include_usage": True})
    calls: dict[int, list[str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            name_and_args = calls.setdefault(delta.index, ["", ""])
            name_and_args[0] += delta.function.name or ""
            name_and_args[1] += delta.function.arguments or ""
    assert [(name, json.loads(args)) for name, args in calls.values()] == list(OPENAI_WEATHER.tool_calls)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_openai_sdk_reads_the_whole_reply(real_upstream):
    async with openai_sdk(real_upstream) as sdk:
        reply = await sdk.chat.completions.create(model="gpt-4o", messages=user("Describe it in two words."))
    assert reply.choices[0].message.content == "Elegant simplicity."
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (343, 3)


async def test_openai_sdk_retries_a_429_after_its_retry_after(real_upstream):
    real_upstream.fail(429, retry_after="0.01")
    async with openai_sdk(real_upstream, max_retries=1) as sdk:
        chunks = await openai_stream(sdk, "Hello!")
    assert openai_text(chunks) == "Hi there’d"
    assert [seen.headers["x-stainless-retry-count"] for seen in real_upstream.requests] == ["0", "1"]


async def test_openai_sdk_gives_up_on_the_429_when_out_of_retries(real_upstream):
    real_upstream.fail(429, times=2, retry_after="0.01")
    async with openai_sdk(real_upstream, max_retries=1) as sdk:
        with pytest.raises(openai.RateLimitError) as raised:
            await openai_stream(sdk, "Hello!")
    assert raised.value.body["code"] == "rate_limit_exceeded"
    assert len(real_upstream.requests) == 2


async def test_a_wrong_openai_key_is_refused_as_openai_does(real_upstream):
    async with openai_sdk(real_upstream, api_key="sk-wrong") as sdk:
        with pytest.raises(openai.AuthenticationError) as raised:
            await openai_stream(sdk, "Hello!")
    assert raised.value.body["code"] == "invalid_api_key"
    assert raised.value.request_id == "req_cce54d2033034299a777db6f8ce812cf"


async def test_a_prompt_with_no_recording_is_a_400_naming_the_known_ones(real_upstream):
    async with openai_sdk(real_upstream) as sdk:
        with pytest.raises(openai.BadRequestError) as raised:
            await openai_stream(sdk, "What is love?")
    assert "Hello!" in raised.value.message and "Tell me a joke" in raised.value.message


# --- Anthropic ----------------------------------------------------------------


async def test_anthropic_sdk_streams_the_recorded_joke(real_upstream):
    async with anthropic_sdk(real_upstream) as sdk:
        async with sdk.messages.stream(model="claude-3-sonnet", max_tokens=64, messages=user("Tell me a joke")) as s:
            texts = [text async for text in s.text_stream]
            message = await s.get_final_message()
    assert "".join(texts) == ANTHROPIC_JOKE.text
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 30)
    assert real_upstream.requests[0].headers["Authorization"] == f"Bearer {KEYS['anthropic']}"


async def test_anthropic_sdk_assembles_text_then_two_tool_uses(real_upstream):
    async with anthropic_sdk(real_upstream) as sdk:
        async with sdk.messages.stream(model="claude", max_tokens=64, messages=user(ANTHROPIC_WEATHER.prompt)) as s:
            message = await s.get_final_message()
    assert [b.text for b in message.content if b.type == "text"] == [ANTHROPIC_WEATHER.text]
    assert [(b.name, b.input) for b in message.content if b.type == "tool_use"] == list(ANTHROPIC_WEATHER.tool_calls)
    assert message.stop_reason == "tool_use"


async def test_the_x_api_key_header_is_accepted_too(real_upstream):
    async with aiohttp.ClientSession() as session:
        ask = {"model": "claude", "max_tokens": 64, "stream": True, "messages": user("Tell me a joke")}
        async with session.post(real_upstream.url + "/v1/messages", json=ask,
                                headers={"x-api-key": KEYS["anthropic"]}) as reply:
            assert (reply.status, await reply.read()) == (200, ANTHROPIC_JOKE.body)


async def test_anthropic_sdk_retries_a_529_overloaded(real_upstream):
    real_upstream.fail(529, retry_after="0.01")
    async with anthropic_sdk(real_upstream, max_retries=1) as sdk:
        message = await sdk.messages.create(model="claude", max_tokens=64, messages=user("Tell me a joke"),
                                            stream=True)
        events = [event.type async for event in message]
    assert events[-1] == "message_stop"
    assert len(real_upstream.requests) == 2


async def test_anthropic_sdk_raises_overloaded_when_out_of_retries(real_upstream):
    real_upstream.fail(529)
    async with anthropic_sdk(real_upstream) as sdk:
        with pytest.raises(anthropic.OverloadedError) as raised:
            await sdk.messages.create(model="claude", max_tokens=64, messages=user("Tell me a joke"), stream=True)
    assert raised.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


async def test_a_wrong_anthropic_key_is_refused(real_upstream):
    async with anthropic_sdk(real_upstream, api_key="sk-ant-wrong") as sdk:
        with pytest.raises(anthropic.AuthenticationError):
            await sdk.messages.create(model="claude", max_tokens=64, messages=user("Tell me a joke"))


# --- Gemini -------------------------------------------------------------------


async def test_gemini_sdk_streams_the_recorded_text(real_upstream):
    def run() -> list:
        with gemini_sdk(real_upstream) as client:
            return list(client.models.generate_content_stream(model="gemini-3-pro-preview",
                                                               contents="What is the capital of Mexico?"))

    chunks = await asyncio.to_thread(run)
    assert "".join(chunk.text or "" for chunk in chunks) == "The capital of Mexico is Mexico City."
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == 173
    (seen,) = real_upstream.requests
    assert (seen.path, seen.query) == ("/v1beta/models/gemini-3-pro-preview:streamGenerateContent", {"alt": "sse"})
    assert seen.headers["x-goog-api-key"] == KEYS["gemini"]


async def test_gemini_sdk_reads_the_whole_function_call(real_upstream):
    def run() -> list:
        with gemini_sdk(real_upstream) as client:
            return list(client.models.generate_content_stream(model="gemini-3-pro-preview",
                                                               contents=GEMINI_COUNTRY.prompt))

    chunks = await asyncio.to_thread(run)
    calls = [(call.name, call.args) for chunk in chunks for call in chunk.function_calls or ()]
    assert calls == list(GEMINI_COUNTRY.tool_calls)


async def test_gemini_sdk_reads_the_whole_reply(real_upstream):
    def run() -> types.GenerateContentResponse:
        with gemini_sdk(real_upstream) as client:
            return client.models.generate_content(model="gemini-3-pro-preview",
                                                  contents="How many r's are in strawberry?")

    reply = await asyncio.to_thread(run)
    assert reply.text == RECORDINGS[("gemini", "How many r's are in strawberry?", False)].text
    assert reply.usage_metadata.thoughts_token_count == 244


async def test_gemini_sdk_retries_a_429_only_when_asked(real_upstream):
    real_upstream.fail(429, times=2)
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01, max_delay=0.02)

    def run() -> tuple[errors.APIError, str]:
        with gemini_sdk(real_upstream) as client:
            with pytest.raises(errors.ClientError) as raised:
                next(client.models.generate_content_stream(model="gemini-3-pro-preview",
                                                           contents="What is the capital of Mexico?"))
        with gemini_sdk(real_upstream, retry_options=retry) as client:
            chunks = client.models.generate_content_stream(model="gemini-3-pro-preview",
                                                           contents="What is the capital of Mexico?")
            return raised.value, "".join(chunk.text or "" for chunk in chunks)

    error, text = await asyncio.to_thread(run)
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    assert text == "The capital of Mexico is Mexico City."
    assert len(real_upstream.requests) == 3  # one without retries, then a 429 and its retry


@pytest.mark.parametrize(("key", "status"), [(None, 403), ("AIza-wrong", 400)], ids=["no-key", "wrong-key"])
async def test_gemini_refuses_a_missing_or_wrong_key_as_google_does(real_upstream, key, status):
    headers = {"x-goog-api-key": key} if key else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(real_upstream.url + GEMINI_STREAM, headers=headers,
                                json={"contents": [{"parts": [{"text": "What is the capital of Mexico?"}]}]}) as reply:
            assert reply.status == status
            assert (await reply.json())["error"]["code"] == status


async def test_gemini_takes_the_key_from_the_query_string(real_upstream):
    url = f"{real_upstream.url}{GEMINI_STREAM}&key={KEYS['gemini']}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"contents": [{"parts": [{"text": "What is the capital of Mexico?"}]}]}) as reply:
            assert (reply.status, await reply.read()) == (200, body("gemini", "What is the capital of Mexico?"))


# --- Ollama -------------------------------------------------------------------


async def test_ollama_client_streams_the_recorded_lines(ollama_sdk):
    parts = [part async for part in await ollama_sdk.chat(
        model="llama3.2", messages=user("Why is the sky blue?"), stream=True)]
    assert "".join(part.message.content for part in parts) == "The sky"
    assert (parts[-1].done, parts[-1].done_reason, parts[-1].eval_count) == (True, "stop", 15)


async def test_ollama_client_reads_each_whole_tool_call(ollama_sdk):
    parts = [part async for part in await ollama_sdk.chat(
        model="qwen2.5:7b", messages=user(OLLAMA_WEATHER.prompt), stream=True)]
    calls = [(call.function.name, dict(call.function.arguments)) for p in parts for call in p.message.tool_calls or ()]
    assert calls == list(OLLAMA_WEATHER.tool_calls)


async def test_ollama_client_reads_the_whole_reply_it_asks_for_by_default(real_upstream, ollama_sdk):
    reply = await ollama_sdk.chat(model="llama3.2", messages=user("Hello!"))
    assert reply.message.content == "Hello! How are you today?"
    assert real_upstream.requests[0].json["stream"] is False


# --- failing after the stream began --------------------------------------------


async def test_each_sdk_meets_its_providers_in_stream_error(real_upstream, ollama_sdk):
    real_upstream.error(after=2, times=4)
    async with openai_sdk(real_upstream) as sdk:
        with pytest.raises(openai.APIError, match="Sorry about that"):
            await openai_stream(sdk, "Hello!")
    async with anthropic_sdk(real_upstream) as sdk:
        with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
            async with sdk.messages.stream(model="c", max_tokens=64, messages=user("Tell me a joke")) as stream:
                await stream.get_final_message()

    def gemini() -> None:
        with gemini_sdk(real_upstream) as client:
            list(client.models.generate_content_stream(model="g", contents="What is the capital of Mexico?"))

    with pytest.raises(errors.ServerError, match="high demand"):
        await asyncio.to_thread(gemini)
    with pytest.raises(ollama.ResponseError) as raised:
        async for _ in await ollama_sdk.chat(model="llama3.2", messages=user("Why is the sky blue?"), stream=True):
            pass
    assert raised.value.status_code == -1  # the status was 200


# --- the bytes on the wire ----------------------------------------------------

# Frames pinned from shared/wire-format.md as printed there, so the tables are
# held to the doc and not only to themselves.
DOC_FRAMES = {
    ("openai", "Hello!"): 'data: {"id":"chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp","object":"chat.completion.chunk",'
    '"created":1755137933,"model":"gpt-5-nano-2025-08-07","service_tier":"default","system_fingerprint":null,'
    '"choices":[{"index":0,"delta":{"content":"’d"},"finish_reason":null}],"obfuscation":"46"}\n\n',
    ("anthropic", "Tell me a joke"): 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0'
    '             }\n\n',
    ("gemini", "What is the capital of Mexico?"): 'data: {"candidates": [{"content": {"parts": [{"text": ""}],'
    '"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 165,'
    '"candidatesTokenCount": 8,"totalTokenCount": 173,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 165}]},'
    '"modelVersion": "gemini-3-pro-preview","responseId": "S1V8aZK2NpGKqtsPvPuEqAw"}\r\n\r\n',
}
ROUTES = {"openai": (CHAT, {"Authorization": f"Bearer {KEYS['openai']}"}),
          "anthropic": ("/v1/messages", {"x-api-key": KEYS["anthropic"]}),
          "gemini": (GEMINI_STREAM, {"x-goog-api-key": KEYS["gemini"]}),
          "ollama": ("/api/chat", {})}
CONTENT_TYPES = {"openai": "text/event-stream; charset=utf-8", "anthropic": "text/event-stream; charset=utf-8",
                 "gemini": "text/event-stream", "ollama": "application/x-ndjson"}


def ask(provider: str, prompt: str) -> dict:
    if provider == "gemini":
        return {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    return {"model": "m", "max_tokens": 64, "stream": True, "messages": user(prompt)}


def ends(pieces) -> set[int]:
    """The offsets at which each piece ends, in the body they make."""
    return set(itertools.accumulate(len(piece) for piece in pieces))


@pytest.mark.parametrize(("provider", "prompt"), list(STREAMS), ids=[f"{p}-{q}" for p, q in STREAMS])
async def test_each_stream_is_its_recorded_bytes_frame_by_frame(real_upstream, provider, prompt):
    path, headers = ROUTES[provider]
    reads: list[bytes] = []
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(real_upstream.url + path, json=ask(provider, prompt), headers=headers) as reply:
            async for data in reply.content.iter_any():
                reads.append(data)
    assert reply.headers["Content-Type"] == CONTENT_TYPES[provider]
    assert reply.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in reply.headers
    assert b"".join(reads) == body(provider, prompt)
    assert ends(reads) <= ends(STREAMS[(provider, prompt)])  # whole frames: each is one write
    if (provider, prompt) in DOC_FRAMES:
        assert DOC_FRAMES[(provider, prompt)].encode() in STREAMS[(provider, prompt)]


async def test_the_provider_headers_come_as_recorded(real_upstream):
    async with openai_sdk(real_upstream) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(model="m", messages=user("Hello!"), stream=True)
        headers = raw.headers
        await raw.parse().close()
    assert headers["x-request-id"] == "req_cce54d2033034299a777db6f8ce812cf"
    assert headers["openai-processing-ms"] == "6191"
    assert headers["x-ratelimit-remaining-requests"] == "499"
    assert headers["set-cookie"].startswith("__cf_bm=")
    assert headers["server"] == "cloudflare"


async def test_time_to_headers_and_the_gap_shape_when_bytes_arrive(real_upstream):
    """Lower bounds only: the head waits ``time_to_headers``, each later frame ``gap``."""
    real_upstream.time_to_headers, real_upstream.gap = 0.05, 0.02
    path, headers = ROUTES["openai"]
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        start = loop.time()
        async with session.post(real_upstream.url + path, json=ask("openai", "Hello!"), headers=headers) as reply:
            head = loop.time()
            arrivals = [loop.time() async for _ in reply.content.iter_any()]
    assert head - start >= 0.05
    assert arrivals[-1] - arrivals[0] >= 0.02 * (len(STREAMS[("openai", "Hello!")]) - 1) - 0.005


# --- troubles -------------------------------------------------------------------


async def test_a_hung_upstream_meets_the_clients_timeout(real_upstream):
    real_upstream.hang()
    async with openai_sdk(real_upstream, timeout=0.3) as sdk:
        with pytest.raises(openai.APITimeoutError):
            await openai_stream(sdk, "Hello!")


async def test_a_reset_before_the_head_is_a_connection_error_the_sdk_retries(real_upstream):
    real_upstream.reset()
    async with openai_sdk(real_upstream, max_retries=1) as sdk:
        chunks = await openai_stream(sdk, "Hello!")
    assert openai_text(chunks) == "Hi there’d"
    assert len(real_upstream.requests) == 2


async def test_a_cut_stream_delivers_its_first_frames_then_fails(real_upstream):
    real_upstream.cut(after=3)
    chunks: list = []
    async with openai_sdk(real_upstream) as sdk:
        stream = await sdk.chat.completions.create(model="m", messages=user("Hello!"), stream=True)
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                chunks.append(chunk)
    assert openai_text(chunks) == "Hi there"


async def test_a_closed_port_refuses_the_connection():
    async with openai.AsyncOpenAI(base_url=closed_port_url() + "/v1", api_key="sk", max_retries=0) as sdk:
        with pytest.raises(openai.APIConnectionError):
            await openai_stream(sdk, "Hello!")
