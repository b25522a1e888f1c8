"""HTTP framing of a stream, read from a bare socket: the player writes chunks
straight to the socket for HTTP/1.1, and leaves HTTP/1.0 to aiohttp."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time

import pytest

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



@pytest.fixture
def served(tmp_path):
    """``mockllm serve`` in a process of its own: a client here reads the
    segments it writes as they come, not after the server's turn of one loop."""
    started: list[subprocess.Popen[str]] = []

    def serve(name: str, scenario: str) -> int:
        (tmp_path / f"{name}.yaml").write_text(scenario, encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "mockllm", "serve", "--port", "0", "--quiet",
                                    "--scenarios", str(tmp_path)], stdout=subprocess.PIPE, text=True)
        started.append(process)
        line = process.stdout.readline() if process.stdout else ""
        assert "listening on " in line, line
        return int(line.rsplit(":", 1)[1])

    yield serve
    for process in started:
        process.terminate()
        process.communicate(timeout=30)  # and its pipe closed


def first_read(port: int, model: str) -> tuple[bytes, float]:
    """The bytes of the first read a client makes, and how long it waited for them."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(raw_request("HTTP/1.1", {**REQUEST, "model": model}, port))
        sent = time.monotonic()
        data = client.recv(65536)
        return data, time.monotonic() - sent


def test_the_headers_and_an_event_due_with_them_arrive_in_one_read(served):
    # One segment, as a real server writes them: a client reading at once
    # finds the first event beside the headers, every time.
    port = served("now", "name: now\nreply: {text: 'one two'}\ntiming: {first_token: 0ms, per_token: 50ms}\n")
    for _ in range(10):
        head, _, body = first_read(port, "now")[0].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"data: " in body


def test_the_headers_do_not_wait_for_a_first_event_that_is_not_due(served):
    port = served("later", "name: later\nsteps:\n  - sleep: 2s\n  - start\n  - text: one\n")
    data, waited = first_read(port, "later")
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n")  # the headers alone
    assert waited < 1.5  # long before the first event's 2 s


def test_the_last_event_and_the_end_of_the_body_arrive_in_one_read(served):
    port = served("paced", "name: paced\nreply: {text: 'one two'}\ntiming: {first_token: 0ms, per_token: 30ms}\n")
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(raw_request("HTTP/1.1", {**REQUEST, "model": "paced"}, port))
            read = b""
            while b"[DONE]" not in read:  # the events come 30 ms apart: one read each
                read = client.recv(65536)
                assert read, "the stream ended before its [DONE]"
        assert read.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
