"""Faults that replace the whole response before any stream: an HTTP error
status in OpenAI's error shape, a proxy page with the wrong Content-Type, and
the ``X-Mockllm-Faults`` header that says which faults a response carries.
"""

from __future__ import annotations

import json

import openai
import pytest

from .fault_clients import raw, sdk, stream

TOKENS = ["One", " two", " three"]
REPLY = f"reply: {{tokens: {TOKENS}}}\n"


def scenario(faults: str) -> str:
    return REPLY + f"faults: [{faults}]\n"


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(faults)``: a server whose scenario ``faulty`` has those faults."""

    async def start(faults: str):
        write_scenario("faulty", scenario(faults))
        write_scenario("clean", REPLY)
        return await start_server([write_scenario.folder])

    return start


# -- status ----------------------------------------------------------------------

async def test_status_429_is_a_rate_limit_error_with_openai_headers_and_body(serve):
    server = await serve("{status: {code: 429}}")
    async with sdk(server) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await stream(client, "faulty", [])
    error = info.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "1"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-ratelimit-limit-tokens" in error.response.headers
    assert error.body["code"] == "rate_limit_exceeded"
    assert error.body["message"].startswith("Rate limit reached")
    assert error.message == f"Error code: 429 - {error.body['message']}"

    reply = await raw(server, "faulty")
    assert reply.status == 429
    assert reply.headers["Content-Type"].startswith("application/json")
    assert set(json.loads(reply.body)["error"]) == {"message", "type", "param", "code"}


async def test_status_headers_and_message_can_be_overridden(serve):
    server = await serve(
        "{status: {code: 429, message: 'slow down',"
        " headers: {retry-after: 7, x-ratelimit-remaining-requests: null}}}"
    )
    reply = await raw(server, "faulty")
    assert reply.status == 429
    assert reply.headers["retry-after"] == "7"
    assert "x-ratelimit-remaining-requests" not in reply.headers
    assert json.loads(reply.body)["error"]["message"] == "slow down"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        pytest.param(500, openai.InternalServerError, id="500"),
        pytest.param(503, openai.InternalServerError, id="503"),
        pytest.param(400, openai.BadRequestError, id="400"),
        pytest.param(401, openai.AuthenticationError, id="401"),
    ],
)
async def test_status_maps_to_the_sdk_exception_for_that_code(serve, code, error):
    server = await serve(f"{{status: {{code: {code}}}}}")
    async with sdk(server) as client:
        with pytest.raises(error) as info:
            await stream(client, "faulty", [])
    assert info.value.status_code == code
    assert set(info.value.body) == {"message", "type", "param", "code"}


# -- content_type ----------------------------------------------------------------

async def test_content_type_sends_the_configured_status_type_and_body(serve):
    server = await serve("{content_type: {value: text/plain, body: 'upstream went away', status: 502}}")
    reply = await raw(server, "faulty")
    assert reply.status == 502
    assert reply.headers["Content-Type"] == "text/plain"
    assert reply.body == b"upstream went away"


async def test_content_type_html_with_200_gives_the_sdk_zero_chunks_and_no_error(serve):
    server = await serve("content_type")
    reply = await raw(server, "faulty")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert b"<html>" in reply.body
    chunks: list = []
    async with sdk(server) as client:
        assert await stream(client, "faulty", chunks) == ""
    assert chunks == []


# -- the label -------------------------------------------------------------------

async def test_faults_header_names_every_applied_fault(serve):
    server = await serve("{drop: {after: 2, mode: close}}, no_finish, {line_endings: {style: cr}}")
    async with sdk(server) as client:
        response = await client.chat.completions.with_raw_response.create(
            model="faulty", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIConnectionError):  # the drop, as the header warned
            async for _ in response.parse():
                pass
    named = response.headers["X-Mockllm-Faults"].split("; ")
    assert sorted(named) == ["drop(after=2,mode=close)", "line_endings(style=cr)", "no_finish"]


async def test_a_response_without_faults_has_no_faults_header(serve):
    server = await serve("no_done")
    reply = await raw(server, "clean")
    assert reply.status == 200
    assert "X-Mockllm-Faults" not in reply.headers
    assert reply.headers["X-Mockllm-Scenario"] == "clean"


async def test_faults_header_is_on_an_error_status_too(serve):
    server = await serve("{status: {code: 503}}")
    reply = await raw(server, "faulty")
    assert reply.status == 503
    assert reply.headers["X-Mockllm-Faults"] == "status(code=503)"
    assert reply.headers["X-Mockllm-Scenario"] == "faulty"
