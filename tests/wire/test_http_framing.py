"""HTTP framing of a stream, read from a bare socket: the player writes chunks
straight to the socket for HTTP/1.1, and leaves HTTP/1.0 to aiohttp."""

from __future__ import annotations

import asyncio
import json
import re

from mockllm import pipeline
from mockllm.dialects import Call
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.library import load_library

CALL = Call(openai_chat.routes[0])

CREATED = re.compile(rb'"created":\d+')
REQUEST = {"model": "hello", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}


def raw_request(version: str, body: dict, port: int) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST /v1/chat/completions {version}\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        f"X-Mockllm-Session: framing\r\nConnection: close\r\n\r\n"
    ).encode() + data


async def exchange(port: int, request: bytes, *, pause: float = 0.0) -> bytes:
    """Send ``request``, optionally wait before reading, and read to the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await asyncio.sleep(pause)
    received = await reader.read()
    writer.close()
    return received


def dechunk(body: bytes) -> list[bytes]:
    """The chunks of a chunked body, checking each size line and the terminator."""
    chunks, at = [], 0
    while True:
        line_end = body.index(b"\r\n", at)
        size = int(body[at:line_end], 16)
        at = line_end + 2
        if size == 0:
            assert body[at:] == b"\r\n", "the body must end with the empty chunk"
            return chunks
        chunks.append(body[at : at + size])
        assert len(chunks[-1]) == size and body[at + size : at + size + 2] == b"\r\n"
        at += size + 2


def planned(library, scenario: str, body: dict, speed: float = 1.0) -> bytes:
    """The body the server plans for the first request of the session."""
    script = pipeline.plan(library.scenarios[scenario], openai_chat.parse(body, CALL), openai_chat,
                           session="framing", speed=speed)
    return CREATED.sub(b"", script.body)


async def test_http11_sends_each_event_as_one_well_formed_chunk(start_server):
    server = await start_server(speed=100)
    head, _, body = (await exchange(server.port, raw_request("HTTP/1.1", REQUEST, server.port))).partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = dechunk(body)
    assert all(chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1 for chunk in chunks)
    assert CREATED.sub(b"", b"".join(chunks)) == planned(load_library(), "hello", REQUEST, 100)


async def test_http10_gets_the_same_events_unframed_up_to_the_close(start_server):
    server = await start_server(speed=100)
    head, _, body = (await exchange(server.port, raw_request("HTTP/1.0", REQUEST, server.port))).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
    assert b"chunked" not in head.lower()
    assert CREATED.sub(b"", body) == planned(load_library(), "hello", REQUEST, 100)


async def test_a_client_that_reads_late_still_gets_every_byte_of_a_long_stream(start_server, write_scenario):
    # About 9 MB with no delays: far past the kernel's socket buffers, so the
    # server must wait for the client to drain them, and lose no byte meanwhile.
    write_scenario("long", "name: long\nreply: {text: '" + "word " * 30000 + "'}\n")
    server = await start_server([write_scenario.folder])
    body = {**REQUEST, "model": "long"}
    received = await exchange(server.port, raw_request("HTTP/1.1", body, server.port),
                              pause=0.5)
    _, _, chunked = received.partition(b"\r\n\r\n")
    expected = planned(load_library([str(write_scenario.folder)]), "long", body)
    assert len(expected) > 8_000_000
    assert CREATED.sub(b"", b"".join(dechunk(chunked))) == expected
