"""Refused requests: the status a real API uses, in OpenAI's error shape, and the server lives on."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest

CHAT = "/v1/chat/completions"
ERROR_CONTENT_TYPE = "application/json; charset=utf-8"
GOOD = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def good(**changes) -> bytes:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


# (raw body, expected param)
BAD_BODIES = [
    (b'{"model": "gpt-4o", "messages": [', None),
    (b"", None),
    (b"[" * 100_000, None),
    (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', None),
    (b"[1, 2]", None),
    (b'"a string"', None),
    (b"null", None),
    (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "caf\xe9"}]}', None),
    (good(messages=...), "messages"),
    (good(messages="hi"), "messages"),
    (good(messages={"role": "user"}), "messages"),
    (good(messages=[]), "messages"),
    (good(messages=["hi"]), "messages[0]"),
    (good(messages=[{"role": "user", "content": "a"}, 7]), "messages[1]"),
    (good(messages=[{"content": "hi"}]), "messages[0].role"),
    (good(model=...), "model"),
    (good(model=4), "model"),
    (good(model=["gpt-4o"]), "model"),
    (good(stream="yes"), "stream"),
    (good(stream=1), "stream"),
    (good(stream=True, stream_options=[]), "stream_options"),
    (good(stream=True, stream_options="include_usage"), "stream_options"),
    (good(stream=True, stream_options={"include_usage": "yes"}), "stream_options.include_usage"),
    # Each optional field wrong on its own: the server checks those a body sends.
    *((good(**{name: "many"}), name) for name in (
        "n", "max_tokens", "max_completion_tokens", "temperature", "top_p", "presence_penalty",
        "frequency_penalty", "seed", "top_logprobs")),
    (good(user=7), "user"),
    (good(stop=7), "stop"),
    (good(logprobs="yes"), "logprobs"),
    (good(tools="search"), "tools"),
    (good(tool_choice="sometimes"), "tool_choice"),
]
BAD_IDS = [
    "malformed-json",
    "empty-body",
    "nested-too-deeply",
    "nan-is-not-json",
    "body-is-a-list",
    "body-is-a-string",
    "body-is-null",
    "not-utf8",
    "messages-missing",
    "messages-a-string",
    "messages-an-object",
    "messages-empty",
    "message-a-string",
    "second-message-a-number",
    "message-without-role",
    "model-missing",
    "model-a-number",
    "model-a-list",
    "stream-a-string",
    "stream-a-number",
    "stream-options-a-list",
    "stream-options-a-string",
    "include-usage-a-string",
    *(f"{name}-a-string" for name in (
        "n", "max-tokens", "max-completion-tokens", "temperature", "top-p", "presence-penalty",
        "frequency-penalty", "seed", "top-logprobs")),
    "user-a-number",
    "stop-a-number",
    "logprobs-a-string",
    "tools-a-string",
    "tool-choice-unknown",
]


async def send(session: aiohttp.ClientSession, url: str, method: str = "POST", data: bytes | None = None):
    headers = {"Content-Type": "application/json"} if data is not None else {}
    async with session.request(method, url, data=data, headers=headers) as response:
        return response.status, response.headers, await response.read()


def assert_openai_error(status: int, headers, body: bytes, expected_status: int) -> dict:
    """Checks the shape every refusal shares and returns the ``error`` object."""
    assert status == expected_status
    assert headers["Content-Type"] == ERROR_CONTENT_TYPE
    decoded = json.loads(body.decode("utf-8"))
    assert list(decoded) == ["error"]
    error = decoded["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    return error


@pytest.mark.parametrize(("data", "param"), BAD_BODIES, ids=BAD_IDS)
async def test_bad_body_is_400_in_openai_error_shape(builtin, data, param):
    async with aiohttp.ClientSession() as session:
        status, headers, body = await send(session, builtin.url + CHAT, data=data)
    error = assert_openai_error(status, headers, body, 400)
    assert error["param"] == param


async def test_body_over_max_body_is_413(start_server, write_scenario):
    write_scenario("short", "reply: {text: ok}\n")
    server = await start_server([write_scenario.folder], default="short", max_body=1024)
    padded = good(messages=[{"role": "user", "content": "x" * 2048}])
    async with aiohttp.ClientSession() as session:
        status, headers, body = await send(session, server.url + CHAT, data=padded)
        error = assert_openai_error(status, headers, body, 413)
        assert "1024" in error["message"]
        status, _, _ = await send(session, server.url + CHAT, data=good())
    assert status == 200


async def test_chunked_body_over_max_body_is_413(start_server, write_scenario):
    write_scenario("short", "reply: {text: ok}\n")
    server = await start_server([write_scenario.folder], default="short", max_body=1024)

    async def pieces():
        for _ in range(8):
            yield b" " * 256
        yield good()

    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, data=pieces()) as response:  # chunked upload
            assert_openai_error(response.status, response.headers, await response.read(), 413)


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v1/nope", 404, None),
        ("POST", "/v2/chat/completions", 404, None),
        ("GET", "/v1/chat/completions", 405, "POST"),
        ("PUT", "/v1/chat/completions", 405, "POST"),
        ("POST", "/v1/models", 405, "GET"),
    ],
    ids=["unknown-get", "unknown-post", "get-on-chat", "put-on-chat", "post-on-models"],
)
async def test_routing_refusals_use_the_same_shape(builtin, method, path, status, allow):
    async with aiohttp.ClientSession() as session:
        got, headers, body = await send(session, builtin.url + path, method, data=good())
    error = assert_openai_error(got, headers, body, status)
    assert path in error["message"]
    if allow is not None:
        allowed = {m.strip() for m in headers["Allow"].split(",")}
        assert allow in allowed and method not in allowed


async def test_sdk_raises_bad_request_for_a_400(client):
    with pytest.raises(openai.BadRequestError) as raised:
        await client.chat.completions.create(model="gpt-4o", messages=[])
    assert raised.value.status_code == 400
    assert raised.value.body["param"] == "messages"


async def test_sdk_raises_not_found_for_an_unknown_scenario_header(client):
    with pytest.raises(openai.NotFoundError) as raised:
        await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Mockllm-Scenario": "no-such-scenario"},
        )
    assert raised.value.status_code == 404
    assert "hello" in raised.value.message


async def test_server_still_answers_after_every_bad_request(builtin):
    async with aiohttp.ClientSession() as session:
        for data, _ in BAD_BODIES:
            status, _, _ = await send(session, builtin.url + CHAT, data=data)
            assert status == 400
        status, _, _ = await send(session, builtin.url + "/v1/chat/completions", "GET")
        assert status == 405
        status, headers, body = await send(session, builtin.url + CHAT, data=good(stream=True))
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert body.endswith(b"data: [DONE]\n\n")


MALFORMED = [
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "Content-Length", id="content-length"),
    pytest.param(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 "chunk size", id="chunk-size"),
]


@pytest.mark.parametrize(("request_bytes", "problem"), MALFORMED)
async def test_a_malformed_http_request_is_a_400_and_one_log_line_not_a_traceback(
    builtin, caplog, request_bytes, problem
):
    reader, writer = await asyncio.open_connection("127.0.0.1", builtin.port)
    writer.write(request_bytes)
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")

    [record] = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert record.levelname == "WARNING" and record.exc_info is None
    message = record.getMessage()
    assert message.startswith("refused a malformed HTTP request from 127.0.0.1:")
    assert problem in message and "\n" not in message
