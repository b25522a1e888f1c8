"""Transport faults as real clients meet them: drops, stalls, slow headers and
slow pipes.

A drop must look the same to a client every time (the SDK's exception, after
exactly the tokens before the cut), so those tests loop. Timings are lower
bounds only; the one upper bound is a generous guard against hanging.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx2
import openai
import pytest

from .fault_clients import CHAT, ask, contents_of, raw, sdk, socket_read, stream, tokens_of

TOKENS = ["One", " two", " three", " four", " five", " six"]
REPLY = f"reply: {{tokens: {TOKENS}}}\n"
SLACK = 0.05  # seconds of timer slack allowed under a lower bound
GUARD = 10.0  # seconds: only so that a hang fails instead of blocking the suite


def scenario(faults: str) -> str:
    return REPLY + f"faults: [{faults}]\n"


# -- drop ----------------------------------------------------------------------

DROPS = [
    pytest.param("reset", httpx2.ReadError, id="reset"),
    pytest.param("close", httpx2.RemoteProtocolError, id="close"),
]


@pytest.mark.parametrize(("mode", "cause"), DROPS)
async def test_drop_mid_stream_raises_connection_error_after_exactly_n_tokens_every_time(
    start_server, write_scenario, mode, cause
):
    write_scenario("cut", scenario(f"{{drop: {{after: 3, mode: {mode}}}}}"))
    server = await start_server([write_scenario.folder])
    async with sdk(server) as client:
        for _ in range(20):
            chunks: list = []
            with pytest.raises(openai.APIConnectionError) as info:
                await stream(client, "cut", chunks)
            assert type(info.value) is openai.APIConnectionError  # not a timeout
            assert isinstance(info.value.__cause__, cause)
            assert tokens_of(chunks) == TOKENS[:3]


async def test_drop_reset_is_an_rst_on_the_socket(start_server, write_scenario):
    write_scenario("cut", scenario("{drop: {after: 3, mode: reset}}"))
    server = await start_server([write_scenario.folder])
    end = await socket_read(server, "cut")
    assert end.reset
    assert end.head.startswith(b"HTTP/1.1 200")
    assert b'"content":" three"' in end.received
    assert b'"content":" four"' not in end.received
    assert b"[DONE]" not in end.received


async def test_drop_close_is_a_fin_before_the_chunked_terminator(start_server, write_scenario):
    write_scenario("cut", scenario("{drop: {after: 3, mode: close}}"))
    server = await start_server([write_scenario.folder])
    end = await socket_read(server, "cut")
    assert not end.reset
    assert not end.complete
    assert b'"content":" three"' in end.received
    assert b"[DONE]" not in end.received


@pytest.mark.parametrize("mode", ["reset", "close"])
async def test_drop_before_headers_fails_with_no_response_at_all(start_server, write_scenario, mode):
    write_scenario("cut", scenario(f"{{drop: {{before: headers, mode: {mode}}}}}"))
    server = await start_server([write_scenario.folder])
    async with sdk(server) as client:
        with pytest.raises(openai.APIConnectionError) as info:
            await stream(client, "cut", [])
    assert type(info.value) is openai.APIConnectionError
    assert not isinstance(info.value, openai.APIStatusError)
    end = await socket_read(server, "cut")
    assert end.received == b""  # not even a status line
    assert end.reset == (mode == "reset")
    async with aiohttp.ClientSession() as session:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await session.post(server.url + CHAT, json=ask("cut"))


# -- stall ---------------------------------------------------------------------

async def test_stall_without_heartbeat_times_the_sdk_out_after_the_tokens_before_it(start_server, write_scenario):
    write_scenario("stuck", scenario("{stall: {after: 2, for: 30s}}"))
    server = await start_server([write_scenario.folder])
    chunks: list = []
    async with sdk(server, timeout=1.0) as client:
        started = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            await stream(client, "stuck", chunks)
        waited = time.perf_counter() - started
    assert tokens_of(chunks) == TOKENS[:2]
    assert waited >= 1.0 - SLACK


async def test_stall_with_heartbeats_never_times_the_sdk_out_and_completes(start_server, write_scenario):
    """Each ``: ping`` resets the read timeout, so a 2 s stall with pings every
    100 ms outlives a 0.5 s timeout: the SDK cannot tell it from progress."""
    write_scenario("pinging", scenario("{stall: {after: 2, for: 2s, heartbeat: 100ms}}"))
    server = await start_server([write_scenario.folder], speed=1)

    async def through_sdk() -> tuple[str, float]:
        async with sdk(server, timeout=0.5) as client:
            started = time.perf_counter()
            text = await stream(client, "pinging", [])
            return text, time.perf_counter() - started

    (text, took), reply = await asyncio.gather(through_sdk(), raw(server, "pinging"))
    assert text == "".join(TOKENS)
    assert took >= 2.0 - SLACK
    pings = [read for read in reply.reads if read.startswith(b": ping")]
    assert len(pings) >= 10
    assert reply.body.count(b": ping\n\n") >= 15  # about one every 100 ms for 2 s
    assert reply.body.endswith(b"data: [DONE]\n\n")


async def test_stall_forever_after_done_lets_the_sdk_finish_but_never_ends_the_body(start_server, write_scenario):
    write_scenario("held", scenario("{stall: {after: done, for: forever}}"))
    server = await start_server([write_scenario.folder])
    async with sdk(server) as client:
        text = await asyncio.wait_for(stream(client, "held", []), GUARD)
    assert text == "".join(TOKENS)  # the SDK stops at [DONE]

    received = b""

    async def read_to_end(response: aiohttp.ClientResponse) -> None:
        nonlocal received
        while data := await response.content.readany():
            received += data

    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=ask("held")) as response:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(read_to_end(response), 0.5)
    assert received.endswith(b"data: [DONE]\n\n")  # everything came, then nothing, not even the end


async def test_stall_forever_with_heartbeats_hangs_the_sdk_past_its_timeout(start_server, write_scenario):
    write_scenario("pinging", scenario("{stall: {after: 2, heartbeat: 50ms}}"))
    server = await start_server([write_scenario.folder])
    chunks: list = []
    async with sdk(server, timeout=0.3) as client:
        with pytest.raises(TimeoutError):  # our own guard, not the SDK's APITimeoutError
            await asyncio.wait_for(stream(client, "pinging", chunks), 1.0)
    assert tokens_of(chunks) == TOKENS[:2]


async def test_stall_forever_before_headers_times_the_sdk_out(start_server, write_scenario):
    write_scenario("mute", scenario("{stall: {before: headers}}"))
    server = await start_server([write_scenario.folder])
    async with sdk(server, timeout=0.3) as client:
        with pytest.raises(openai.APITimeoutError):
            await stream(client, "mute", [])


# -- slow headers --------------------------------------------------------------

async def test_slow_headers_hold_back_even_the_status_line(start_server, write_scenario):
    write_scenario("late", scenario("{slow_headers: {delay: 300ms}}"))
    server = await start_server([write_scenario.folder], speed=1)
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(server.url + CHAT, json=ask("late")) as response:
            headers_after = time.perf_counter() - started
            assert response.status == 200
            body = await response.read()
    assert headers_after >= 0.3 - SLACK
    assert body.endswith(b"data: [DONE]\n\n")


async def test_slow_headers_time_out_an_sdk_waiting_for_the_response(start_server, write_scenario):
    write_scenario("late", scenario("{slow_headers: {delay: 300ms}}"))
    server = await start_server([write_scenario.folder], speed=1)
    async with sdk(server, timeout=0.1) as client:
        with pytest.raises(openai.APITimeoutError):
            await stream(client, "late", [])


# -- bandwidth -----------------------------------------------------------------

async def test_bandwidth_delivers_every_byte_no_faster_than_the_rate(start_server, write_scenario):
    rate = 10_000
    write_scenario("narrow", scenario(f"{{bandwidth: {{bytes_per_second: {rate}}}}}"))
    server = await start_server([write_scenario.folder], speed=1)
    started = time.perf_counter()
    reply = await raw(server, "narrow")
    took = time.perf_counter() - started
    assert contents_of(reply.body) == TOKENS
    assert reply.body.endswith(b"data: [DONE]\n\n")
    assert took >= 0.8 * len(reply.body) / rate
    assert len(reply.reads) > 1
    async with sdk(server) as client:
        assert await stream(client, "narrow", []) == "".join(TOKENS)

