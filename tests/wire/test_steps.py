"""Hand-written ``steps:`` scenarios as the official SDK meets them."""

from __future__ import annotations

import aiohttp
import openai
import pytest

MESSAGES = [{"role": "user", "content": "hi"}]

# A provider that sends a chunk split over two data: lines, then resets.
ODD = r"""
name: odd
steps:
  - start
  - text: "Hello"
  - raw: "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\ndata: \"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":null}]}\n\n"
  - sleep: 50ms
  - close: reset
"""


@pytest.fixture
async def odd_server(start_server, write_scenario):
    write_scenario("odd", ODD)
    return await start_server([write_scenario.folder])


async def test_raw_bytes_reach_the_sdk_and_a_close_step_cuts_the_stream(odd_server):
    async with openai.AsyncOpenAI(base_url=odd_server.base_url, api_key="k", max_retries=0) as client:
        text = ""
        with pytest.raises(openai.APIConnectionError):
            stream = await client.chat.completions.create(model="odd", messages=MESSAGES, stream=True)
            async for chunk in stream:
                text += chunk.choices[0].delta.content or ""
    # The SDK joins the two data: lines of the raw event into one JSON chunk.
    assert text == "Hello world"


async def test_the_raw_step_is_on_the_wire_byte_for_byte(odd_server):
    async with aiohttp.ClientSession() as session:
        async with session.post(odd_server.url + "/v1/chat/completions",
                                json={"model": "odd", "messages": MESSAGES, "stream": True}) as response:
            received = b""
            with pytest.raises(aiohttp.ClientPayloadError):
                async for data in response.content.iter_any():
                    received += data
    assert b'"model":"m",\ndata: "choices"' in received
    assert b"[DONE]" not in received


async def test_stream_false_gets_the_text_the_steps_carry(odd_server):
    async with openai.AsyncOpenAI(base_url=odd_server.base_url, api_key="k", max_retries=0) as client:
        completion = await client.chat.completions.create(model="odd", messages=MESSAGES)
    # Raw bytes are not interpreted, so only the text step counts.
    assert completion.choices[0].message.content == "Hello"
