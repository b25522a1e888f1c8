"""``stream: false`` (or no ``stream``): one ``chat.completion`` JSON object."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

CHAT = "/v1/chat/completions"
TOKENS = ["Elegant", " simplicity", ", ", "北京", "."]
REPLY = "".join(TOKENS)
ARGUMENTS = '{"city": "Paris"}'


@pytest.fixture
async def server(start_server, write_scenario):
    write_scenario("plain", f"reply: {{tokens: {json.dumps(TOKENS, ensure_ascii=False)}}}\n")
    write_scenario(
        "weather",
        f"""\
        reply:
          tool_calls:
            - {{name: get_weather, id: call_abc, arguments: '{ARGUMENTS}'}}
        """,
    )
    return await start_server([write_scenario.folder], default="plain", speed=50)


def ask(model: str = "plain", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


async def post(server, body: dict) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=body) as response:
            return response, await response.read()


@pytest.mark.parametrize("stream", [{"stream": False}, {}], ids=["stream-false", "stream-omitted"])
async def test_non_stream_reply_is_one_json_completion(server, stream):
    response, body = await post(server, ask(**stream))
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["Content-Length"] == str(len(body))
    completion = json.loads(body)
    assert completion["object"] == "chat.completion"
    assert completion["id"].startswith("chatcmpl-")
    assert completion["model"] == "plain"
    assert isinstance(completion["created"], int)
    (choice,) = completion["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == REPLY
    assert choice["message"]["refusal"] is None
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


async def test_body_is_pretty_printed_with_two_spaces_and_raw_utf8(server):
    _, body = await post(server, ask(stream=False))
    assert body == json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode("utf-8")
    assert b'\n  "id": "chatcmpl-' in body
    assert "北京".encode() in body


async def test_keys_follow_the_api_order(server):
    _, body = await post(server, ask(stream=False))
    keys = list(json.loads(body))
    assert keys[:6] == ["id", "object", "created", "model", "choices", "usage"]
    assert "system_fingerprint" in keys[6:]


async def test_usage_totals_add_up(server):
    _, body = await post(server, ask(stream=False))
    usage = json.loads(body)["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == len(TOKENS)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_tool_call_reply_has_null_content_and_a_tool_calls_list(server):
    _, body = await post(server, ask("weather", stream=False))
    (choice,) = json.loads(body)["choices"]
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ARGUMENTS}}
    ]
    assert choice["finish_reason"] == "tool_calls"


async def test_openai_sdk_reads_the_completion(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(
            model="plain", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


async def test_openai_sdk_reads_the_tool_call(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(
            model="weather", messages=[{"role": "user", "content": "weather?"}], stream=False
        )
    message = completion.choices[0].message
    assert message.content is None
    (call,) = message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_abc", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert completion.choices[0].finish_reason == "tool_calls"
