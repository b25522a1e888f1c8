"""Stopping a server: it stops accepting, lets open streams finish for up to
its grace period, then ends the rest itself; those are journaled and logged
as ``server_shutdown``, not as clients that left."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref

import aiohttp
import pytest

from mockllm import server
from mockllm.library import load_library
from mockllm.state import STATE, Settings

from .fault_clients import CHAT, ask

SLOW = "reply: {tokens: [a, b, c, d, e, f]}\ntiming: {first_token: 50ms, per_token: 150ms}\n"  # ~0.8 s


def journal(running) -> list[dict]:
    """The journal of a server, read in process: a stopped server answers no HTTP."""
    return [entry.to_json() for entry in running.runner.app[STATE].store.journal.entries()]


async def open_stream(session: aiohttp.ClientSession, running, scenario: str) -> aiohttp.ClientResponse:
    response = await session.post(running.url + CHAT, json=ask(scenario))
    assert response.status == 200
    assert (await response.content.readline()).startswith(b"data: ")  # the stream has begun
    return response


async def test_a_stream_still_open_after_the_grace_period_is_ended_as_server_shutdown(start_server, caplog):
    running = await start_server(speed=50, grace=0.5)
    async with aiohttp.ClientSession() as session:
        response = await open_stream(session, running, "stall-forever")
        with caplog.at_level(logging.INFO, logger="mockllm"):
            loop = asyncio.get_running_loop()
            began = loop.time()
            await asyncio.wait_for(running.close(), 10)
            took = loop.time() - began
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(response.read(), 5)  # the stream ended, unfinished
    assert took >= 0.5  # it was given its grace period
    (entry,) = journal(running)
    assert (entry["scenario"], entry["outcome"]) == ("stall-forever", "server_shutdown")
    messages = [record.getMessage() for record in caplog.records]
    assert any("1 open stream" in message for message in messages), messages
    assert any("outcome=server_shutdown" in message for message in messages), messages


async def test_a_stream_that_ends_within_the_grace_period_finishes_and_completes(start_server, write_scenario):
    write_scenario("slow", SLOW)
    running = await start_server([write_scenario.folder], grace=10)
    async with aiohttp.ClientSession() as session:
        response = await open_stream(session, running, "slow")
        closing = asyncio.ensure_future(running.close())
        body = await asyncio.wait_for(response.read(), 10)
        await asyncio.wait_for(closing, 10)
    assert body.endswith(b"data: [DONE]\n\n")
    (entry,) = journal(running)
    assert (entry["outcome"], entry["tokens"]) == ("completed", 6)


async def test_a_stopping_server_accepts_no_new_connection(start_server, write_scenario):
    write_scenario("slow", SLOW)
    running = await start_server([write_scenario.folder], grace=10)
    async with aiohttp.ClientSession() as session:
        response = await open_stream(session, running, "slow")
        closing = asyncio.ensure_future(running.close())
        await asyncio.sleep(0.1)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as fresh:
                await fresh.get(running.url + "/v1/models")
        await response.read()
        await asyncio.wait_for(closing, 10)


async def test_a_request_still_arriving_when_the_grace_ends_is_server_shutdown(start_server):
    running = await start_server(speed=50, grace=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\"")
        await writer.drain()
        await asyncio.sleep(0.2)  # the handler is waiting for the rest of the body
        await asyncio.wait_for(running.close(), 10)
    finally:
        writer.close()
    (entry,) = journal(running)
    assert (entry["status"], entry["outcome"]) == (None, "server_shutdown")


async def test_a_client_that_leaves_during_the_grace_period_is_still_client_disconnected(start_server):
    running = await start_server(speed=50, grace=30)
    session = aiohttp.ClientSession()
    response = await open_stream(session, running, "stall-forever")
    closing = asyncio.ensure_future(running.close())
    await asyncio.sleep(0.2)
    response.close()
    await session.close()
    await asyncio.wait_for(closing, 10)  # nothing left to wait for: well before the grace ends
    (entry,) = journal(running)
    assert entry["outcome"] == "client_disconnected"


async def test_a_stopped_server_leaves_nothing_of_itself_in_memory():
    """A test suite starts a server per test (the pytest plugin does): each one
    stopped must free its app and scenario library, or a suite's heap grows by
    one library per test and its full garbage collections take seconds.
    aiohttp's process-wide middleware cache held every app it served."""
    running = await server.start(Settings(load_library([], None)), "127.0.0.1", 0)
    async with aiohttp.ClientSession() as session:
        async with session.post(running.url + CHAT, json=ask("hello")) as response:
            assert response.status == 200
            await response.read()
    app = weakref.ref(running.runner.app)
    await running.close()
    del running
    gc.collect()
    assert app() is None, [type(r).__name__ for r in gc.get_referrers(app())]
