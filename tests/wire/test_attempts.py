"""Attempts per session, as a retrying client meets them: "fail twice, then
succeed" in one scenario file, proven through the SDK's own retries; how the
session is keyed; and which faults still apply to ``stream: false``.
"""

from __future__ import annotations

import time

import aiohttp
import openai
import pytest

from .fault_clients import CHAT, MESSAGES, ask, raw, sdk, stream

TOKENS = ["Got", " there", " in", " the", " end"]
TEXT = "".join(TOKENS)
REPLY = f"reply: {{tokens: {TOKENS}}}\n"
LIMITED = "{faults: [{status: {code: 429, headers: {retry-after-ms: 10}}}]}"


def attempts(*entries: str) -> str:
    return REPLY + "attempts:\n" + "".join(f"  - {entry}\n" for entry in entries)


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(yaml)``: a server whose scenario ``flaky`` is that YAML."""

    async def start(text: str):
        write_scenario("flaky", text)
        return await start_server([write_scenario.folder])

    return start


async def create_raw(client: openai.AsyncOpenAI, **extra):
    return await client.chat.completions.with_raw_response.create(
        model="flaky", messages=MESSAGES, stream=True, **extra
    )


async def test_429_twice_then_success_is_absorbed_by_the_sdk_retries(serve):
    server = await serve(attempts(LIMITED, LIMITED, "{faults: []}"))
    async with sdk(server, max_retries=2) as client:
        response = await create_raw(client)
        chunks = [chunk async for chunk in response.parse()]
    assert response.headers["X-Mockllm-Attempt"] == "3"
    assert response.retries_taken == 2
    assert "X-Mockllm-Faults" not in response.headers
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT


async def test_429_on_every_attempt_exhausts_the_sdk_retries(serve):
    server = await serve(attempts(LIMITED))  # the last entry repeats
    async with sdk(server, max_retries=2) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await stream(client, "flaky", [])
    assert info.value.response.headers["X-Mockllm-Attempt"] == "3"


async def test_drop_before_headers_then_clean_succeeds_through_sdk_retries(serve):
    server = await serve(attempts("{faults: [{drop: {before: headers}}]}", "{faults: []}"))
    async with sdk(server, max_retries=2) as client:
        response = await create_raw(client)
        chunks = [chunk async for chunk in response.parse()]
    assert response.headers["X-Mockllm-Attempt"] == "2"
    assert response.retries_taken == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT


async def test_without_retries_the_first_call_fails_and_the_second_succeeds(serve):
    server = await serve(attempts("{faults: [{drop: {before: headers}}]}", "{faults: []}"))
    async with sdk(server) as client:
        with pytest.raises(openai.APIConnectionError):
            await stream(client, "flaky", [])
        assert await stream(client, "flaky", []) == TEXT
        assert await stream(client, "flaky", []) == TEXT  # the last entry repeats


async def test_a_mid_stream_drop_is_not_retried_by_the_sdk(serve):
    server = await serve(attempts("{faults: [{drop: {after: 2}}]}", "{faults: []}"))
    async with sdk(server, max_retries=2) as client:
        chunks: list = []
        with pytest.raises(openai.APIConnectionError):
            await stream(client, "flaky", chunks)
        response = await create_raw(client)
    assert response.headers["X-Mockllm-Attempt"] == "2"  # the SDK made one attempt, not three


# -- the session key ---------------------------------------------------------------

async def test_each_session_header_counts_its_own_attempts(serve):
    server = await serve(attempts(LIMITED, "{faults: []}"))
    async with sdk(server, default_headers={"X-Mockllm-Session": "alice"}) as alice:
        async with sdk(server, default_headers={"X-Mockllm-Session": "bob"}) as bob:
            with pytest.raises(openai.RateLimitError):
                await stream(alice, "flaky", [])
            with pytest.raises(openai.RateLimitError):  # bob's first attempt, whatever alice did
                await stream(bob, "flaky", [])
            assert await stream(alice, "flaky", []) == TEXT
            assert await stream(bob, "flaky", []) == TEXT


async def test_session_query_parameter_keys_the_session(serve):
    server = await serve(attempts(LIMITED, "{faults: []}"))
    async with sdk(server, default_query={"session": "q1"}) as first:
        with pytest.raises(openai.RateLimitError):
            await stream(first, "flaky", [])
        assert await stream(first, "flaky", []) == TEXT
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, params={"session": "q1"}, json=ask("flaky")) as response:
            assert response.status == 200
            assert response.headers["X-Mockllm-Attempt"] == "3"
        async with session.post(server.url + CHAT, params={"session": "q2"}, json=ask("flaky")) as response:
            assert response.status == 429
            assert response.headers["X-Mockllm-Attempt"] == "1"


async def test_session_header_wins_over_the_query_parameter(serve):
    server = await serve(attempts(LIMITED, "{faults: []}"))
    async with sdk(server, default_query={"session": "shared"}) as client:
        with pytest.raises(openai.RateLimitError):
            await stream(client, "flaky", [])
    own = {"X-Mockllm-Session": "own"}
    async with sdk(server, default_query={"session": "shared"}, default_headers=own) as client:
        with pytest.raises(openai.RateLimitError):  # its own first attempt
            await stream(client, "flaky", [])


async def test_without_a_session_the_client_address_is_the_session(serve):
    server = await serve(attempts(LIMITED, "{faults: []}"))
    async with sdk(server) as first:
        with pytest.raises(openai.RateLimitError):
            await stream(first, "flaky", [])
    # Another client, on another connection from the same address: attempt 2.
    async with sdk(server) as second:
        assert await stream(second, "flaky", []) == TEXT
    reply = await raw(server, "flaky")
    assert reply.headers["X-Mockllm-Attempt"] == "3"


async def test_attempt_counters_are_per_scenario(start_server, write_scenario):
    write_scenario("flaky", attempts(LIMITED, "{faults: []}"))
    write_scenario("other", attempts(LIMITED, "{faults: []}"))
    server = await start_server([write_scenario.folder])
    async with sdk(server) as client:
        with pytest.raises(openai.RateLimitError):
            await stream(client, "flaky", [])
        with pytest.raises(openai.RateLimitError):  # attempt 1 of "other"
            await stream(client, "other", [])


# -- stream: false -----------------------------------------------------------------

async def test_non_stream_request_ignores_stream_only_faults(serve):
    stream_only = "{malformed: {after: 1}}, {drop: {after: 2}}, no_done, {fragment: {bytes: 3}}"
    server = await serve(REPLY + f"faults: [{stream_only}]\n")
    async with sdk(server) as client:
        response = await client.chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES)
        completion = response.parse()
    assert completion.choices[0].message.content == TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert "X-Mockllm-Faults" not in response.headers
    reply = await raw(server, "flaky", stream=False)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")


async def test_non_stream_request_still_gets_a_status_fault(serve):
    server = await serve(REPLY + "faults: [{status: {code: 503}}]\n")
    async with sdk(server) as client:
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(model="flaky", messages=MESSAGES)
    assert info.value.status_code == 503
    assert info.value.response.headers["X-Mockllm-Faults"] == "status(code=503)"


@pytest.mark.parametrize(
    "drop", ["{drop: {before: headers}}", "{drop: {mode: close}}"], ids=["before-headers", "before-first-token"]
)
async def test_non_stream_request_still_gets_a_drop_before_the_body(serve, drop):
    server = await serve(REPLY + f"faults: [{drop}]\n")
    async with sdk(server) as client:
        with pytest.raises(openai.APIConnectionError) as info:
            await client.chat.completions.create(model="flaky", messages=MESSAGES)
    assert type(info.value) is openai.APIConnectionError


async def test_non_stream_request_still_gets_slow_headers(start_server, write_scenario):
    write_scenario("flaky", REPLY + "faults: [{slow_headers: {delay: 300ms}}]\n")
    server = await start_server([write_scenario.folder], speed=1)
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(server.url + CHAT, json=ask("flaky", stream=False)) as response:
            waited = time.perf_counter() - started
            completion = await response.json()
    assert waited >= 0.3 - 0.05
    assert completion["choices"][0]["message"]["content"] == TEXT
    assert response.headers["X-Mockllm-Faults"] == "slow_headers(delay=0.3s)"
