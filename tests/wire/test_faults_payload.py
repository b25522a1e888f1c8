"""Payload faults as the official SDK meets them: one broken event, an
in-stream error, and a terminator missing or repeated.

Each breaks in the way wire-format.md §7.1 and §8.3 record for openai-python:
bad JSON and bad UTF-8 escape as raw ``json``/``UnicodeDecodeError``, a line
without ``data:`` vanishes silently, an error event raises ``APIError``.
"""

from __future__ import annotations

import json

import openai
import pytest

from .fault_clients import events_of, raw, sdk, stream, text_of, tokens_of

TOKENS = ["One", " two", " three", " four", " five"]
REPLY = f"reply: {{tokens: {TOKENS}}}\n"
TEXT = "".join(TOKENS)


def scenario(faults: str) -> str:
    return REPLY + f"faults: [{faults}]\n"


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(faults)``: a server whose scenario ``faulty`` has those faults."""

    async def start(faults: str):
        write_scenario("faulty", scenario(faults))
        return await start_server([write_scenario.folder])

    return start


# -- malformed -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "error"),
    [
        pytest.param("invalid_json", json.JSONDecodeError, id="invalid_json"),
        pytest.param("truncated_json", json.JSONDecodeError, id="truncated_json"),
        pytest.param("bad_utf8", UnicodeDecodeError, id="bad_utf8"),
    ],
)
async def test_malformed_event_raises_a_raw_decode_error_after_the_tokens_before_it(serve, kind, error):
    server = await serve(f"{{malformed: {{after: 2, kind: {kind}}}}}")
    chunks: list = []
    async with sdk(server) as client:
        with pytest.raises(error):
            await stream(client, "faulty", chunks)
    assert tokens_of(chunks) == TOKENS[:2]


async def test_malformed_bad_utf8_puts_invalid_bytes_on_the_wire(serve):
    server = await serve("{malformed: {after: 2, kind: bad_utf8}}")
    reply = await raw(server, "faulty")
    (broken,) = [line for line in reply.body.split(b"\n") if b"\xff\xfe" in line]
    assert broken.startswith(b"data: ")
    with pytest.raises(UnicodeDecodeError):
        broken.decode("utf-8")


async def test_malformed_no_data_prefix_silently_loses_exactly_that_token(serve):
    server = await serve("{malformed: {after: 2, kind: no_data_prefix}}")
    async with sdk(server) as client:
        text = await stream(client, "faulty", [])
    assert text == "".join(TOKENS[:2] + TOKENS[3:])
    reply = await raw(server, "faulty")
    assert any(line.startswith(b'{"id":') for line in reply.body.split(b"\n"))  # the bare JSON line


async def test_malformed_wrong_schema_yields_a_chunk_without_choices(serve):
    server = await serve("{malformed: {after: 2, kind: wrong_schema}}")
    chunks: list = []
    async with sdk(server) as client:
        await stream(client, "faulty", chunks)
    odd = [chunk for chunk in chunks if chunk.choices is None]
    assert len(odd) == 1
    with pytest.raises(TypeError):
        odd[0].choices[0]  # what app code that trusts the schema then does
    assert text_of(chunks) == "".join(TOKENS[:2] + TOKENS[3:])


# -- error_event -----------------------------------------------------------------

async def test_error_event_raises_api_error_with_its_message_after_the_tokens_before_it(serve):
    server = await serve("{error_event: {after: 3, message: 'the model fell over', type: server_error}}")
    chunks: list = []
    async with sdk(server) as client:
        with pytest.raises(openai.APIError) as info:
            await stream(client, "faulty", chunks)
    assert not isinstance(info.value, openai.APIStatusError)  # the status was 200
    assert info.value.message == "the model fell over"
    assert tokens_of(chunks) == TOKENS[:3]
    reply = await raw(server, "faulty")
    assert reply.status == 200
    *_, last = events_of(reply.body)
    assert last["error"]["message"] == "the model fell over"
    assert last["error"]["type"] == "server_error"
    assert b"[DONE]" not in reply.body


# -- terminators -----------------------------------------------------------------

async def test_no_done_ends_the_body_cleanly_and_the_sdk_sees_no_problem(serve):
    server = await serve("no_done")
    chunks: list = []
    async with sdk(server) as client:
        assert await stream(client, "faulty", chunks) == TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    reply = await raw(server, "faulty")
    assert b"[DONE]" not in reply.body
    assert reply.body.endswith(b"\n\n")


async def test_no_finish_sends_done_but_no_chunk_carries_a_finish_reason(serve):
    server = await serve("no_finish")
    chunks: list = []
    async with sdk(server) as client:
        assert await stream(client, "faulty", chunks) == TEXT
    assert chunks
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks)
    reply = await raw(server, "faulty")
    assert reply.body.endswith(b"data: [DONE]\n\n")


async def test_duplicate_done_sends_the_terminator_twice(serve):
    server = await serve("duplicate_done")
    reply = await raw(server, "faulty")
    assert reply.body.count(b"data: [DONE]\n\n") == 2
    assert reply.body.endswith(b"data: [DONE]\n\ndata: [DONE]\n\n")
    async with sdk(server) as client:
        assert await stream(client, "faulty", []) == TEXT
