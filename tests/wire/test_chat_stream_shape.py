"""The bytes of a Chat Completions stream, as a raw HTTP client receives them."""

from __future__ import annotations

import json
import re

import aiohttp
import openai
import pytest

CHAT = "/v1/chat/completions"
TEXT_TOKENS = ["Hello", " there", ",", " friend"]
ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'


def chat(model: str = "gpt-4o", *, stream: bool = True, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream, **extra}


def events_of(body: bytes) -> list[bytes]:
    """The payloads of ``data: ...\\n\\n`` events; fails on any other framing."""
    assert body.endswith(b"\n\n"), body[-40:]
    frames = body[:-2].split(b"\n\n")
    payloads = []
    for frame in frames:
        assert frame.startswith(b"data: "), frame
        assert b"\n" not in frame, frame
        payloads.append(frame[len(b"data: "):])
    return payloads


def chunks_of(body: bytes) -> list[dict]:
    payloads = events_of(body)
    assert payloads[-1] == b"[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


@pytest.fixture
async def server(start_server, write_scenario):
    write_scenario("words", f"reply: {{tokens: {json.dumps(TEXT_TOKENS)}}}\n")
    write_scenario(
        "weather",
        f"""\
        reply:
          tool_calls:
            - name: get_weather
              id: call_fixed123
              arguments: '{ARGUMENTS}'
        """,
    )
    write_scenario("unicode", 'reply: {tokens: ["Hé", " 北京", " ’d", " 🙂"]}\n')
    return await start_server([write_scenario.folder], default="words", speed=50, seed=7)


async def post(server, body: dict, headers: dict | None = None) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(server.url + CHAT, json=body, headers=headers or {}) as response:
            return response, await response.read()


# -- HTTP framing ------------------------------------------------------------

async def test_stream_is_an_uncompressed_chunked_event_stream(server):
    response, body = await post(server, chat(), {"Accept-Encoding": "gzip, deflate"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.headers
    assert "Content-Encoding" not in response.headers
    assert body.startswith(b"data: {")


async def test_every_event_is_one_compact_json_data_line_with_lf_only(server):
    _, body = await post(server, chat())
    assert b"\r" not in body
    for payload in events_of(body)[:-1]:
        parsed = json.loads(payload)
        compact = json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert payload == compact


async def test_body_ends_with_done_and_nothing_after(server):
    _, body = await post(server, chat())
    assert body.endswith(b"}\n\ndata: [DONE]\n\n")
    assert body.count(b"[DONE]") == 1


# -- chunk contents ----------------------------------------------------------

async def test_first_chunk_opens_the_assistant_message(server):
    _, body = await post(server, chat())
    first = chunks_of(body)[0]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert first["choices"][0]["finish_reason"] is None


async def test_one_chunk_per_token_then_a_finish_chunk(server):
    _, body = await post(server, chat())
    chunks = chunks_of(body)
    middle = [c["choices"][0] for c in chunks[1:-1]]
    assert [c["delta"] for c in middle] == [{"content": t} for t in TEXT_TOKENS]
    assert all(c["finish_reason"] is None for c in middle)
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {}
    assert last["finish_reason"] == "stop"


async def test_every_chunk_shares_id_object_created_model_and_fingerprint(server):
    _, body = await post(server, chat(model="my-model-2025"))
    chunks = chunks_of(body)
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]+", chunks[0]["id"])
    assert isinstance(chunks[0]["created"], int) and not isinstance(chunks[0]["created"], bool)
    assert isinstance(chunks[0]["system_fingerprint"], str) and chunks[0]["system_fingerprint"]
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "my-model-2025"
        for key in ("id", "created", "system_fingerprint"):
            assert chunk[key] == chunks[0][key], key


async def test_include_usage_adds_null_usage_and_a_final_usage_chunk(server):
    _, body = await post(server, chat(stream_options={"include_usage": True}))
    chunks = chunks_of(body)
    *streamed, final = chunks
    assert all("usage" in c and c["usage"] is None for c in streamed)
    assert streamed[-1]["choices"][0]["finish_reason"] == "stop"
    assert final["choices"] == []
    usage = final["usage"]
    assert usage["completion_tokens"] == len(TEXT_TOKENS)
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert final["id"] == streamed[0]["id"]


async def test_without_include_usage_no_chunk_has_a_usage_key(server):
    _, body = await post(server, chat(stream_options={"include_usage": False}))
    chunks = chunks_of(body)
    assert all("usage" not in c for c in chunks)
    assert all(c["choices"] for c in chunks)


@pytest.mark.parametrize(
    ("stream_options", "expected"),
    [
        (None, True),
        ({"include_usage": True}, True),
        ({"include_obfuscation": True}, True),
        ({"include_obfuscation": False}, False),
        ({"include_obfuscation": False, "include_usage": True}, False),
    ],
    ids=["default", "with-usage", "explicit-on", "off", "off-with-usage"],
)
async def test_obfuscation_is_on_every_chunk_unless_turned_off(server, stream_options, expected):
    extra = {"stream_options": stream_options} if stream_options is not None else {}
    _, body = await post(server, chat(**extra))
    chunks = chunks_of(body)
    assert [("obfuscation" in c) for c in chunks] == [expected] * len(chunks)
    if expected:
        assert all(re.fullmatch(r"[A-Za-z0-9]*", c["obfuscation"]) for c in chunks)


async def test_non_ascii_text_is_sent_as_raw_utf8(server):
    _, body = await post(server, chat("unicode"))
    assert b"\\u" not in body
    assert '"Hé"'.encode() in body
    assert '" 北京"'.encode() in body
    assert '" ’d"'.encode() in body
    assert '" 🙂"'.encode() in body


# -- tool calls ----------------------------------------------------------------

async def test_tool_call_stream_opens_with_null_content_then_streams_arguments(server):
    _, body = await post(server, chat("weather"))
    chunks = chunks_of(body)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": None}
    assert deltas[1] == {
        "tool_calls": [
            {"index": 0, "id": "call_fixed123", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}
        ]
    }
    pieces = deltas[2:-1]
    assert len(pieces) > 1
    for delta in pieces:
        assert list(delta) == ["tool_calls"]
        (call,) = delta["tool_calls"]
        assert call.keys() == {"index", "function"} and call["index"] == 0
        assert call["function"].keys() == {"arguments"}
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in pieces) == ARGUMENTS
    assert deltas[-1] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_openai_sdk_assembles_the_tool_call(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(
            model="weather", messages=[{"role": "user", "content": "weather?"}], stream=True
        )
        names, arguments, finish = [], "", None
        async for chunk in stream:
            choice = chunk.choices[0]
            for call in choice.delta.tool_calls or []:
                if call.function.name:
                    names.append(call.function.name)
                arguments += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert names == ["get_weather"]
    assert json.loads(arguments) == json.loads(ARGUMENTS)
    assert finish == "tool_calls"


# -- reproducibility -----------------------------------------------------------

def without_created(body: bytes) -> bytes:
    stripped, count = re.subn(rb'"created":\d+,', b"", body)
    assert count > 0
    return stripped


async def test_same_seed_and_session_give_byte_identical_streams(start_server, write_scenario):
    write_scenario("words", f"reply: {{tokens: {json.dumps(TEXT_TOKENS)}}}\ntiming: {{jitter: 20ms}}\n")
    first = await start_server([write_scenario.folder], default="words", speed=50, seed=11)
    second = await start_server([write_scenario.folder], default="words", speed=50, seed=11)
    headers = {"X-Mockllm-Session": "replay-me"}
    body = chat(stream_options={"include_usage": True})
    _, one = await post(first, body, headers)
    _, two = await post(second, body, headers)
    assert without_created(one) == without_created(two)


async def test_different_sessions_get_different_ids(server):
    _, one = await post(server, chat(), {"X-Mockllm-Session": "alice"})
    _, two = await post(server, chat(), {"X-Mockllm-Session": "bob"})
    assert chunks_of(one)[0]["id"] != chunks_of(two)[0]["id"]
    assert without_created(one) != without_created(two)
