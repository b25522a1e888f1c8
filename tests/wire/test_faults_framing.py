"""Framing faults: the same content, framed or cut into writes in ways that
are legal SSE but break naive readers. The SDK must still get every token
(except after a BOM, which the Python SDK is known to mishandle); raw reads
show what a hand-written reader is up against.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import aiohttp
import pytest

from .fault_clients import CHAT, ask, contents_of, events_of, raw, sdk, stream, text_of

TOKENS = ["One", " two", " three", " four", " five"]
TEXT = "".join(TOKENS)
# Tokens of six or more wide characters: a 7-byte cut inside one always lands
# mid-character somewhere, whatever the token's offset in its event.
CHINESE_TOKENS = ["北京的秋天很美，", "天高云淡风很轻。", "🌍🌏🌎地球"]
CHINESE = "".join(CHINESE_TOKENS)
FRAGMENTED = f"reply: {{tokens: {json.dumps(CHINESE_TOKENS, ensure_ascii=False)}}}"


def scenario(faults: str, reply: str = f"reply: {{tokens: {TOKENS}}}") -> str:
    return f"{reply}\nfaults: [{faults}]\n"


async def test_bom_costs_the_sdk_its_first_event_but_not_the_text(start_server, write_scenario):
    write_scenario("marked", scenario("bom"))
    server = await start_server([write_scenario.folder])
    reply = await raw(server, "marked")
    assert reply.body.startswith(b"\xef\xbb\xbfdata: {")
    chunks: list = []
    async with sdk(server) as client:
        assert await stream(client, "marked", chunks) == TEXT
    assert not any(chunk.choices and chunk.choices[0].delta.role for chunk in chunks)  # the role chunk is lost


@pytest.mark.parametrize(
    ("style", "ending"), [pytest.param("crlf", b"\r\n", id="crlf"), pytest.param("cr", b"\r", id="cr")]
)
async def test_line_endings_change_every_line_and_the_sdk_still_reassembles(
    start_server, write_scenario, style, ending
):
    write_scenario("ends", scenario(f"{{line_endings: {{style: {style}}}}}"))
    server = await start_server([write_scenario.folder])
    reply = await raw(server, "ends")
    assert reply.body.endswith(b"data: [DONE]" + ending * 2)
    assert b"\n" not in reply.body.replace(b"\r\n", b"" if style == "crlf" else b"\r\n")
    if style == "cr":
        assert b"\n" not in reply.body
    relined = reply.body.replace(ending, b"\n")
    assert events_of(relined)[-1] == "[DONE]"
    async with sdk(server) as client:
        assert await stream(client, "ends", []) == TEXT


async def test_fragment_reaches_the_client_as_tiny_separate_reads(start_server, write_scenario):
    write_scenario("bits", scenario("{fragment: {bytes: 7}}", FRAGMENTED))
    server = await start_server([write_scenario.folder])
    reply = await raw(server, "bits")
    pieces = _piece_ends(reply.body, 7)
    read_ends = set(itertools.accumulate(len(read) for read in reply.reads))
    # Every read ends where a 7-byte write ended: the server never wrote more
    # at once. Loopback (or a client busy elsewhere) may merge a few writes
    # into one read, but not most of them.
    assert read_ends <= pieces
    assert len(reply.reads) >= len(pieces) / 2
    assert sorted(len(read) for read in reply.reads)[len(reply.reads) // 2] <= 7
    assert "".join(contents_of(reply.body)) == CHINESE


async def test_fragment_splits_utf8_characters_and_the_sdk_reassembles_them(start_server, write_scenario):
    write_scenario("bits", scenario("{fragment: {bytes: 7}}", FRAGMENTED))
    server = await start_server([write_scenario.folder])
    reply = await raw(server, "bits")
    torn = 0
    for read in reply.reads:
        try:
            read.decode("utf-8")
        except UnicodeDecodeError:
            torn += 1
    assert torn > 0  # some reads end or start inside a character
    async with sdk(server) as client:
        assert await stream(client, "bits", []) == CHINESE


async def test_fragment_defeats_a_reader_that_parses_each_read_as_whole_lines(start_server, write_scenario):
    write_scenario("bits", scenario("{fragment: {bytes: 7}}", FRAGMENTED))
    server = await start_server([write_scenario.folder])
    reply = await raw(server, "bits")
    naive = 0
    for read in reply.reads:  # the common bug: no buffer carried between reads
        for line in read.split(b"\n"):
            if line.startswith(b"data: {"):
                try:
                    json.loads(line[len(b"data: ") :])
                    naive += 1
                except ValueError:
                    pass
    events = [e for e in events_of(reply.body) if isinstance(e, dict)]
    assert naive < len(events) / 2


def _piece_ends(body: bytes, size: int) -> set[int]:
    """Where each write of ``size``-byte pieces ends: every event is cut from its own start."""
    ends: set[int] = set()
    start = 0
    for event in body.split(b"\n\n")[:-1]:
        length = len(event) + 2
        ends.update(start + min(offset + size, length) for offset in range(0, length, size))
        start += length
    return ends


async def test_coalesce_sends_many_events_in_one_read(start_server, write_scenario):
    # 20 ms between tokens, so without the fault each event would be a read of its own.
    reply_yaml = f"reply: {{tokens: {TOKENS * 2}}}\ntiming: {{per_token: 20ms}}"
    write_scenario("lumps", scenario("{coalesce: {events: 5}}", reply_yaml))
    server = await start_server([write_scenario.folder])
    reply = await raw(server, "lumps")
    events = events_of(reply.body)
    assert len(events) == 1 + 10 + 1 + 1  # role, tokens, finish, [DONE]
    assert len(reply.reads) < len(events)
    assert max(read.count(b"data: ") for read in reply.reads) >= 5
    chunks: list = []
    async with sdk(server) as client:
        await stream(client, "lumps", chunks)
    assert text_of(chunks) == TEXT * 2


async def test_line_endings_apply_to_the_heartbeats_of_an_endless_stall(start_server, write_scenario):
    write_scenario("ends", scenario("{stall: {after: 2, heartbeat: 20ms}}, {line_endings: {style: cr}}"))
    server = await start_server([write_scenario.folder])
    received = b""
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=ask("ends")) as response:
            while received.count(b": ping") < 3:
                received += await asyncio.wait_for(response.content.readany(), 5.0)
    assert b": ping\r\r" in received
    assert b"\n" not in received
