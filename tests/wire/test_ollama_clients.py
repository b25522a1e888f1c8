"""The Ollama format through the official Python client (ollama-python) over a real socket.

Every clean built-in scenario must come back exactly through ``chat`` and
``generate``, streamed and not; each fault must meet the client as the real
server's failure does (wire-format.md §14.5): a raw ``httpx`` error for a cut,
a raw ``JSONDecodeError`` for a broken line, ``ResponseError`` with status -1
for the in-stream error and with the HTTP status for an error response.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import aiohttp
import httpx
import ollama
import pydantic
import pytest

from mockllm.library import load_library
from mockllm.scenario import Scenario

LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
# httpx's iter_lines() splits on U+0085, U+2028 and U+2029 as well as LF; Go
# escapes the last two but not U+0085, so a reply holding one breaks the
# client's stream on the real server too (§14.5). Those get their own test.
SPLIT_BY_HTTPX = [s for s in CLEAN if "\x85" in s.reply.text]
STREAMABLE = [s for s in CLEAN if s not in SPLIT_BY_HTTPX]
each_clean = pytest.mark.parametrize("scenario", CLEAN, ids=[s.name for s in CLEAN])
each_streamable = pytest.mark.parametrize("scenario", STREAMABLE, ids=[s.name for s in STREAMABLE])
MESSAGES = [{"role": "user", "content": "Tell me something."}]
_sessions = itertools.count()


@pytest.fixture
async def client():
    """``client(server, **options)``: the async client on ``server``, in a session of
    its own (attempt schedules count per session); each is closed when the test ends."""
    made: list[ollama.AsyncClient] = []

    def make(server, **options) -> ollama.AsyncClient:
        headers = {"X-Mockllm-Session": f"ollama-{next(_sessions)}"}
        made.append(ollama.AsyncClient(host=server.url, headers=headers, **options))
        return made[-1]

    yield make
    for sdk in made:
        await sdk.close()


def expected_calls(scenario: Scenario) -> list[tuple[str, dict]]:
    return [(call.name, json.loads(call.arguments)) for call in scenario.reply.tool_calls]


def calls_of(message: ollama.Message) -> list[tuple[str, dict]]:
    return [(call.function.name, dict(call.function.arguments)) for call in message.tool_calls or ()]


async def chat_stream(sdk: ollama.AsyncClient, model: str, parts: list[ollama.ChatResponse]) -> None:
    """Stream a chat, keeping every part as it arrives (a test still sees them after an exception)."""
    async for part in await sdk.chat(model=model, messages=MESSAGES, stream=True):
        parts.append(part)


def text_of(parts: list[ollama.ChatResponse]) -> str:
    return "".join(part.message.content or "" for part in parts)


@pytest.fixture
async def server(start_server):
    return await start_server(speed=50)


# -- clean scenarios: exact reassembly -----------------------------------------------------


@each_streamable
async def test_chat_stream_reassembles_the_scenario_text_and_tool_calls(client, server, scenario):
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), scenario.name, parts)

    assert text_of(parts) == scenario.reply.text
    calls = [call for part in parts for call in calls_of(part.message)]
    assert calls == expected_calls(scenario)
    assert [part.done for part in parts] == [False] * (len(parts) - 1) + [True], "one done line, last"
    final = parts[-1]
    assert final.done_reason == ("length" if scenario.reply.finish_reason == "length" else "stop")
    assert final.eval_count and final.eval_count > 0
    assert all(part.model == scenario.name for part in parts)


@each_clean
async def test_chat_without_stream_is_one_object_with_the_whole_message(client, server, scenario):
    reply = await client(server).chat(model=scenario.name, messages=MESSAGES)

    assert reply.done is True
    assert reply.message.role == "assistant"
    assert reply.message.content == scenario.reply.text
    assert calls_of(reply.message) == expected_calls(scenario)
    assert reply.done_reason == ("length" if scenario.reply.finish_reason == "length" else "stop")


@each_streamable
async def test_generate_stream_reassembles_the_scenario_text(client, server, scenario):
    parts = [part async for part in await client(server).generate(model=scenario.name, prompt="hi", stream=True)]

    assert "".join(part.response or "" for part in parts) == scenario.reply.text
    assert parts[-1].done is True and parts[-1].context, "the final generate line carries a context"


@each_clean
async def test_generate_without_stream_is_the_whole_text(client, server, scenario):
    reply = await client(server).generate(model=scenario.name, prompt="hi")

    assert reply.response == scenario.reply.text
    assert reply.done is True and reply.done_reason in ("stop", "length")


@pytest.mark.parametrize("scenario", SPLIT_BY_HTTPX, ids=[s.name for s in SPLIT_BY_HTTPX])
async def test_a_raw_next_line_breaks_the_clients_line_reader_as_on_the_real_server(client, server, scenario):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(json.JSONDecodeError):
        await chat_stream(client(server), scenario.name, parts)

    # Split on LF alone, as NDJSON means, the same bytes hold the text exactly.
    async with aiohttp.ClientSession() as session:
        body = {"model": scenario.name, "messages": MESSAGES}
        async with session.post(server.url + "/api/chat", json=body) as response:
            raw = await response.read()
    lines = [json.loads(line) for line in raw.split(b"\n") if line]
    assert "".join(line["message"]["content"] for line in lines) == scenario.reply.text
    assert b"\\u2028" in raw and "\x85".encode() in raw, "Go escapes U+2028, not U+0085"


async def test_the_sync_client_streams_too(server):
    def run() -> str:
        with ollama.Client(host=server.url) as sdk:
            parts = sdk.chat(model="hello", messages=MESSAGES, stream=True)
            return "".join(part.message.content or "" for part in parts)

    assert await asyncio.to_thread(run) == LIBRARY.scenarios["hello"].reply.text


async def test_list_shows_every_scenario_as_a_model(client, server):
    listed = await client(server).list()

    names = [model.model for model in listed.models]
    assert names == [f"{name}:latest" for name in LIBRARY.scenarios]
    assert all(model.details and model.details.format == "gguf" for model in listed.models)
    assert all(model.digest and len(model.digest) == 64 for model in listed.models)


async def test_a_listed_name_selects_its_scenario_and_is_echoed_as_sent(client, server):
    reply = await client(server).chat(model="poem:latest", messages=MESSAGES)

    assert reply.message.content == LIBRARY.scenarios["poem"].reply.text
    assert reply.model == "poem:latest"


async def test_version_answers(server):
    async with aiohttp.ClientSession() as session, session.get(server.url + "/api/version") as response:
        assert response.status == 200
        assert set(await response.json()) == {"version"}


# -- faults ------------------------------------------------------------------------------


async def test_a_reset_mid_stream_is_a_raw_httpx_error_after_some_text(client, server):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(httpx.ReadError):
        await chat_stream(client(server), "drop-reset", parts)
    assert parts and not parts[-1].done, "text arrived, the done line never did"


async def test_a_close_mid_stream_is_an_incomplete_chunked_read(client, server):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        await chat_stream(client(server), "drop-close", parts)
    assert parts and not any(part.done for part in parts)


@pytest.mark.parametrize("name", ["malformed-json", "truncated-json", "no-data-prefix"])
async def test_a_broken_line_is_a_raw_json_decode_error(client, server, name):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(json.JSONDecodeError):
        await chat_stream(client(server), name, parts)
    assert parts, "the lines before the broken one were yielded"


async def test_a_line_of_the_wrong_schema_fails_chat_validation(client, server):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(pydantic.ValidationError, match="message"):
        await chat_stream(client(server), "wrong-schema", parts)


async def test_the_in_stream_error_is_a_response_error_with_status_minus_one(client, server):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(ollama.ResponseError) as caught:
        await chat_stream(client(server), "error-event", parts)
    assert caught.value.status_code == -1, "the HTTP status was 200"
    assert caught.value.error == "an error was encountered while running the model"
    assert len(parts) == 4 and text_of(parts), "four tokens came first"


async def test_rate_limited_then_ok_fails_each_attempt_with_429_then_streams(client, server):
    sdk = client(server)  # one session: the attempts count 1, 2, 3
    for _ in range(2):
        with pytest.raises(ollama.ResponseError) as caught:
            await chat_stream(sdk, "rate-limited-then-ok", [])
        assert caught.value.status_code == 429
        assert caught.value.error == "rate limited"
    parts: list[ollama.ChatResponse] = []
    await chat_stream(sdk, "rate-limited-then-ok", parts)
    assert text_of(parts) == LIBRARY.scenarios["rate-limited-then-ok"].reply.text


async def test_a_status_error_without_stream_is_a_response_error_too(client, server):
    with pytest.raises(ollama.ResponseError) as caught:
        await client(server).chat(model="server-error", messages=MESSAGES)
    assert caught.value.status_code == 500
    assert caught.value.error == "an error was encountered while running the model"


async def test_a_stall_meets_the_clients_read_timeout(client, server):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(httpx.ReadTimeout):
        await chat_stream(client(server, timeout=0.5), "stall-forever", parts)
    assert parts, "some tokens came before the silence"


async def test_heartbeats_during_a_stall_are_empty_chunks_the_client_parses(client, start_server, write_scenario):
    write_scenario("beat", """\
        reply: {tokens: ["a", "b", "c"]}
        faults: [{stall: {after: 2, for: 300ms, heartbeat: 50ms}}]
    """)
    server = await start_server([write_scenario.folder])
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), "beat", parts)

    assert text_of(parts) == "abc"
    empty = [p for p in parts if not p.done and not p.message.content]
    assert empty, "the heartbeats reached the client as chunks"
    assert all(p.model is None for p in empty)


async def test_no_done_ends_the_stream_quietly_without_the_done_line(client, server):
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), "no-done", parts)
    assert text_of(parts) == LIBRARY.scenarios["no-done"].reply.text
    assert not any(part.done for part in parts)


async def test_a_bom_before_the_first_line_is_a_raw_json_decode_error(client, server):
    with pytest.raises(json.JSONDecodeError, match="BOM"):
        await chat_stream(client(server), "bom", [])


async def test_an_html_page_with_200_is_a_raw_json_decode_error(client, server):
    with pytest.raises(json.JSONDecodeError):
        await chat_stream(client(server), "html-200", [])


async def test_a_proxy_error_page_is_a_response_error_holding_the_page(client, server):
    with pytest.raises(ollama.ResponseError) as caught:
        await chat_stream(client(server), "proxy-error-page", [])
    assert caught.value.status_code == 502 and "<html>" in caught.value.error


async def test_bytes_that_are_not_utf8_become_replacement_characters_silently(client, server):
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), "bad-utf8", parts)
    assert "\ufffd" in text_of(parts) and parts[-1].done


async def test_a_second_done_line_is_yielded_as_another_final_part(client, server):
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), "duplicate-done", parts)
    assert [p.done for p in parts][-2:] == [True, True]
    assert text_of(parts) == LIBRARY.scenarios["duplicate-done"].reply.text


async def test_no_finish_leaves_the_done_line_whole_ollama_has_no_finish_of_its_own(client, server):
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), "no-finish", parts)
    assert parts[-1].done and parts[-1].done_reason == "stop"


async def test_heartbeats_keep_a_read_timeout_from_ever_firing(client, server):
    parts: list[ollama.ChatResponse] = []
    # Heartbeats every 100 ms (5 s at speed 50) under a 1 s read timeout: only our own deadline ends it.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(chat_stream(client(server, timeout=1.0), "heartbeat-stall", parts), 2.5)
    assert len(text_of(parts).split()) <= 3 < len(parts), "three tokens, then empty heartbeat chunks"


@pytest.mark.parametrize("name", ["crlf", "cr-only", "coalesced", "fragmented-chinese", "slow-pipe", "slow-headers"])
async def test_framing_and_pacing_faults_still_reassemble_exactly(client, server, name):
    parts: list[ollama.ChatResponse] = []
    await chat_stream(client(server), name, parts)
    assert text_of(parts) == LIBRARY.scenarios[name].reply.text and parts[-1].done


@pytest.mark.parametrize("name", ["flaky-then-ok", "reset-after-headers-then-ok"])
async def test_a_cut_before_any_line_is_a_raw_read_error_and_never_retried(client, server, name):
    sdk = client(server)
    with pytest.raises(httpx.ReadError):
        await chat_stream(sdk, name, [])
    seen: list[dict] = []
    for _ in range(100):  # the server journals the exchange once its handler has ended
        seen = [entry for entry in await server_journal(server) if entry.get("scenario") == name]
        if seen:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # time enough for a retry to have arrived, had the client made one
    seen = [entry for entry in await server_journal(server) if entry.get("scenario") == name]
    assert len(seen) == 1, "one request: no retries"


async def server_journal(server) -> list[dict]:
    async with aiohttp.ClientSession() as session, session.get(server.url + "/_mockllm/journal") as response:
        return (await response.json())["entries"]


async def test_done_then_hang_gives_the_whole_reply_then_a_read_timeout(client, server):
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(httpx.ReadTimeout):
        await chat_stream(client(server, timeout=0.5), "done-then-hang", parts)
    assert parts[-1].done and text_of(parts) == LIBRARY.scenarios["done-then-hang"].reply.text


# -- requests ------------------------------------------------------------------------------


async def post(server, path: str, body: object) -> tuple[int, str, dict]:
    async with aiohttp.ClientSession() as session, session.post(server.url + path, json=body) as response:
        return response.status, response.headers["Content-Type"], await response.json(content_type=None)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/chat", {"messages": MESSAGES}, "model is required"),
        ("/api/generate", {"prompt": "hi"}, "model is required"),
        ("/api/chat", [], "json: cannot unmarshal array into Go value of type api.ChatRequest"),
        ("/api/chat", {"model": "hello", "messages": "hi"},
         "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"),
        ("/api/chat", {"model": "hello", "messages": [{"role": "user", "content": [{"text": "hi"}]}]},
         "json: cannot unmarshal array into Go struct field ChatRequest.messages.content of type string"),
        ("/api/chat", {"model": "hello", "messages": MESSAGES, "stream": "yes"},
         "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"),
        ("/api/generate", {"model": "hello", "prompt": 5},
         "json: cannot unmarshal number into Go struct field GenerateRequest.prompt of type string"),
        ("/api/chat", {"model": "hello", "messages": MESSAGES, "top_logprobs": 21},
         "top_logprobs must be between 0 and 20"),
    ],
    ids=["chat-no-model", "generate-no-model", "not-an-object", "messages-string", "content-parts",
         "stream-string", "prompt-number", "top-logprobs"],
)
async def test_a_bad_request_is_400_in_ollamas_shape(server, path, body, message):
    status, content_type, error = await post(server, path, body)
    assert (status, error) == (400, {"error": message})
    assert content_type.startswith("application/json")


async def test_the_sdk_sees_a_bad_request_as_a_response_error(client, server):
    with pytest.raises(ollama.ResponseError) as caught:
        await client(server).chat(model="hello", messages=MESSAGES, logprobs=True, top_logprobs=21)
    assert (caught.value.status_code, caught.value.error) == (400, "top_logprobs must be between 0 and 20")


async def test_an_unknown_model_on_a_strict_server_is_404_in_ollamas_shape(client, start_server):
    server = await start_server(speed=50, strict=True)
    with pytest.raises(ollama.ResponseError) as caught:
        await client(server).chat(model="llama9", messages=MESSAGES)
    assert caught.value.status_code == 404
    assert "llama9" in caught.value.error


async def test_an_unknown_api_path_answers_in_ollamas_shape(server):
    status, _, error = await post(server, "/api/nope", {})
    assert status == 404 and set(error) == {"error"} and isinstance(error["error"], str)


async def test_stream_absent_means_a_stream(server):
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + "/api/chat", json={"model": "hello", "messages": MESSAGES}) as response:
            assert response.headers["Content-Type"] == "application/x-ndjson"
            lines = (await response.read()).split(b"\n")
    assert lines[-1] == b"" and all(lines[:-1]), "one object a line, no blank lines"
    assert json.loads(lines[-2])["done"] is True


# -- a mount takes /api/chat ----------------------------------------------------------------


async def test_a_content_mount_on_api_chat_wins_and_api_generate_stays_ollama(start_server):
    server = await start_server(speed=50, default="poem", mounts=(("/api/chat", "content"),))
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + "/api/chat", json={"message": "hi"}) as response:
            mounted = await response.read()
        async with session.post(server.url + "/api/generate", json={"model": "poem", "prompt": "hi"}) as response:
            generated = await response.read()
    assert mounted.startswith(b'data: {"content":') and mounted.endswith(b"data: [DONE]\n\n")
    lines = [json.loads(line) for line in generated.split(b"\n") if line]
    assert "".join(line["response"] for line in lines) == LIBRARY.scenarios["poem"].reply.text
    assert lines[-1]["done"] is True
