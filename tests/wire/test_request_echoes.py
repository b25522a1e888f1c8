"""Every value a request carries is safe to echo: into a stream, an error
message, a header or the journal. A body with a lone surrogate (``\\ud800``,
which no UTF-8 can carry) is refused with the API's 400; escaped surrogate
pairs are characters and work; headers and query values that are not UTF-8
come back escaped, and never as a 500."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

CHAT = "/v1/chat/completions"
HI = '[{"role":"user","content":"hi"}]'

# Bodies with a lone surrogate somewhere, as raw JSON text.
LONE = [
    '{"model":"\\ud800","stream":true,"messages":%s}' % HI,
    '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"a\\udfffb"}]}',
    '{"model":"gpt-4o","messages":[{"role":"\\uDBFF","content":"hi"}]}',
    '{"model":"gpt-4o","stream":true,"messages":%s,"\\ud83d":1}' % HI,
    '{"model":"gpt-4o","stream":true,"messages":%s,"user":"\\ude00\\ud83d"}' % HI,
    '{"model":"gpt-4o","stream":true,"messages":%s,"tools":[{"type":"function","function":{"name":"f\\ud800"}}]}' % HI,
]
LONE_IDS = ["in-model", "in-content", "in-role", "in-a-key", "pair-in-the-wrong-order", "deep-in-tools"]


async def send(url: str, data: bytes, **headers: str):
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=data, headers={"Content-Type": "application/json", **headers}) as response:
            return response.status, response.headers.copy(), await response.read()


async def journal(server) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/_mockllm/journal") as response:
            assert response.status == 200
            return json.loads(await response.read())["entries"]


def api_error(status: int, headers, body: bytes) -> dict:
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    error = json.loads(body.decode("utf-8"))["error"]  # strict UTF-8: nothing unencodable leaked
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize("text", LONE, ids=LONE_IDS)
async def test_a_lone_surrogate_anywhere_in_the_body_is_the_apis_400(builtin, text):
    status, headers, body = await send(builtin.url + CHAT, text.encode())
    assert status == 400
    assert "could not parse the JSON body" in api_error(status, headers, body)["message"]
    [entry] = await journal(builtin)
    assert entry["outcome"] == "error" and entry["status"] == 400  # not client_disconnected
    status, _, body = await send(builtin.url + CHAT, b'{"model":"gpt-4o","stream":true,"messages":%s}' % HI.encode())
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")


async def test_a_lone_surrogate_at_a_content_mount_is_a_400(start_server):
    server = await start_server(speed=50, mounts=(("/api/chat", "content"),))
    status, headers, body = await send(server.url + "/api/chat", b'{"message":"hi\\ud800"}')
    assert status == 400
    api_error(status, headers, body)


async def test_escaped_surrogate_pairs_are_characters_and_stream(builtin):
    text = '{"model":"hello\\ud83d\\ude00","stream":true,"messages":[{"role":"user","content":"\\uD83D\\uDE00"}]}'
    status, _, body = await send(builtin.url + CHAT, text.encode())
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")
    assert '"model":"hello😀"'.encode() in body  # an unknown model falls to the default and is echoed
    [entry] = await journal(builtin)
    assert entry["request"]["messages"][0]["content"] == "😀"


async def test_a_literal_backslash_u_is_not_a_surrogate(builtin):
    text = '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"\\\\ud800"}]}'
    status, _, body = await send(builtin.url + CHAT, text.encode())
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send header bytes no client library would (not UTF-8); the status and body back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


NOT_UTF8 = b"caf\xff\xed\xa0\x80"  # a stray byte, then a surrogate encoded as UTF-8 would


async def test_a_scenario_header_that_is_not_utf8_is_a_404_in_json(builtin):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status, body = await raw_request(
        builtin.port, head + b"X-Mockllm-Scenario: " + NOT_UTF8 + b"\r\n",
        b'{"model":"gpt-4o","messages":%s}' % HI.encode(),
    )
    assert status == 404
    message = json.loads(body.decode("utf-8"))["error"]["message"]
    assert message.startswith("No scenario named 'caf\\udcff")  # escaped, not lost
    [entry] = await journal(builtin)
    assert entry["status"] == 404 and entry["outcome"] == "error"


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Mockllm-Session: %s\r\n",
        b"GET /v1/stream/hello HTTP/1.1\r\nHost: x\r\nX-Mockllm-Session: %s\r\n",
        b"GET /v1/stream/hello HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 3%s\r\n",
    ],
    ids=["session-header-on-chat", "session-header-on-eventsource", "last-event-id"],
)
async def test_headers_that_are_not_utf8_stream_and_the_journal_keeps_them(builtin, head):
    body = b'{"model":"gpt-4o","stream":true,"messages":%s}' % HI.encode() if head.startswith(b"POST") else b""
    status, received = await raw_request(builtin.port, head.replace(b"%s", NOT_UTF8), body)
    assert status == 200 and b"Hello!" in received
    [entry] = await journal(builtin)
    assert entry["outcome"] == "completed"
    assert "caf\udcff" in json.dumps(entry, ensure_ascii=False)  # kept as the escape it decoded to


QUERIES = [
    ("/v1/stream/hello?format=%ED%A0%80", 400, "format"),
    ("/v1/stream/%ED%A0%80", 404, None),
    ("/v1/stream/hello?format=content&session=%ED%A0%80%FF", 200, None),
    ("/v1/stream/hello?format=content&prompt=%ED%A0%80", 200, None),
    ("/v1/stream/hello?format=content&lastEventId=%ED%A0%80", 200, None),
    ("/api/chat?scenario=%ED%A0%80", 404, None),
    ("/api/chat?prompt=%FF%ED%A0%80", 200, None),
]
QUERY_IDS = ["format", "scenario-in-path", "session", "prompt", "last-event-id-query", "mount-scenario", "mount-prompt"]


@pytest.mark.parametrize(("path", "status", "param"), QUERIES, ids=QUERY_IDS)
async def test_query_values_that_are_not_utf8_are_answered_not_crashed_on(start_server, path, status, param):
    server = await start_server(speed=50, default="hello", mounts=(("/api/chat", "content"),))
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + path) as response:
            body = await response.read()
            got, headers = response.status, response.headers
    assert got == status
    if status == 200:
        assert body.endswith(b"data: [DONE]\n\n")
    else:
        assert api_error(got, headers, body)["param"] == param
    [entry] = await journal(server)
    assert entry["status"] == status
