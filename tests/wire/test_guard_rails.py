"""Guard rails: who may use the control routes (loopback, the admin token),
what the CLI says about it at startup, and requests too broken to parse,
which get a 4xx while the server goes on answering."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import threading

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from mockllm import server
from mockllm.app import make_app
from mockllm.library import load_library
from mockllm.state import Settings

from .fault_clients import CHAT, ask

TOKEN = "s3cret"
ERROR_KEYS = {"message", "type", "param", "code"}

# (method, path, body, success status) for every control route
CONTROL_ROUTES = [
    ("GET", "/_mockllm/health", None, 200),
    ("GET", "/_mockllm/scenarios", None, 200),
    ("POST", "/_mockllm/scenarios", "name: added\nreply: {text: hi}\n", 201),
    ("DELETE", "/_mockllm/scenarios/only", None, 204),
    ("GET", "/_mockllm/journal", None, 200),
    ("POST", "/_mockllm/reset", None, 204),
]
ROUTE_IDS = ["health", "list", "add", "delete", "journal", "reset"]


async def call(url: str, method: str, path: str, body=None, **headers: str):
    """(status, headers, JSON body or None)."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url + path, data=body, headers=headers) as response:
            data = await response.read()
            return response.status, response.headers, json.loads(data) if data else None


async def names(url: str, **headers: str) -> list[str]:
    status, _, data = await call(url, "GET", "/_mockllm/scenarios", **headers)
    assert status == 200
    return [s["name"] for s in data["scenarios"]]


@pytest.fixture
async def guarded(start_server, write_scenario):
    """A loopback server with an admin token configured."""
    write_scenario("only", "reply: {text: hi}\n")
    return await start_server([write_scenario.folder], admin_token=TOKEN)


# -- the admin token -------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body", "ok"), CONTROL_ROUTES, ids=ROUTE_IDS)
async def test_with_a_token_configured_even_loopback_needs_it_401_without_one(guarded, method, path, body, ok):
    status, headers, data = await call(guarded.url, method, path, body)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert set(data["error"]) == ERROR_KEYS
    assert data["error"]["code"] == "missing_admin_token"
    assert await names(guarded.url, Authorization=f"Bearer {TOKEN}") == ["only"]  # nothing changed


@pytest.mark.parametrize(("method", "path", "body", "ok"), CONTROL_ROUTES, ids=ROUTE_IDS)
async def test_a_wrong_token_is_403(guarded, method, path, body, ok):
    status, headers, data = await call(guarded.url, method, path, body, Authorization="Bearer s3cre")
    assert status == 403
    assert "WWW-Authenticate" not in headers
    assert data["error"]["code"] == "invalid_admin_token"
    assert await names(guarded.url, Authorization=f"Bearer {TOKEN}") == ["only"]


@pytest.mark.parametrize(("method", "path", "body", "ok"), CONTROL_ROUTES, ids=ROUTE_IDS)
async def test_the_right_token_is_let_through(guarded, method, path, body, ok):
    status, _, _ = await call(guarded.url, method, path, body, Authorization=f"Bearer {TOKEN}")
    assert status == ok


@pytest.mark.parametrize(
    "authorization", [TOKEN, f"Basic {TOKEN}", "Bearer"], ids=["no-scheme", "basic-scheme", "scheme-only"]
)
async def test_a_token_not_given_as_a_bearer_token_is_401(guarded, authorization):
    status, headers, _ = await call(guarded.url, "GET", "/_mockllm/health", Authorization=authorization)
    assert status == 401
    assert "WWW-Authenticate" in headers


async def test_the_bearer_scheme_is_case_insensitive(guarded):
    assert (await call(guarded.url, "GET", "/_mockllm/health", Authorization=f"bearer {TOKEN}"))[0] == 200
    assert (await call(guarded.url, "GET", "/_mockllm/health", Authorization=f"BEARER {TOKEN}"))[0] == 200


async def raw_health(port: int, authorization: bytes) -> bytes:
    """The status line of ``GET /_mockllm/health`` sent with exactly these header bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET /_mockllm/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Authorization: " + authorization + b"\r\n\r\n"
        )
        return (await asyncio.wait_for(reader.read(), 5)).split(b"\r\n", 1)[0]
    finally:
        writer.close()


async def test_a_token_that_is_not_utf8_is_403_not_a_server_error(guarded):
    assert await raw_health(guarded.port, b"Bearer \xff\xfe") == b"HTTP/1.1 403 Forbidden"
    assert (await call(guarded.url, "GET", "/_mockllm/health", Authorization=f"Bearer {TOKEN}"))[0] == 200


async def test_a_non_ascii_token_is_compared_as_its_utf8_bytes(start_server):
    running = await start_server(speed=50, admin_token="s3crét")
    assert await raw_health(running.port, "Bearer s3crét".encode()) == b"HTTP/1.1 200 OK"
    assert await raw_health(running.port, b"Bearer s3cret") == b"HTTP/1.1 403 Forbidden"


async def test_the_api_routes_never_need_the_token(guarded):
    async with aiohttp.ClientSession() as session:
        async with session.post(guarded.url + CHAT, json=ask("only", stream=False)) as response:
            assert response.status == 200
            assert (await response.json())["choices"][0]["message"]["content"] == "hi"
        async with session.get(guarded.url + "/v1/models") as response:
            assert response.status == 200
            assert [m["id"] for m in (await response.json())["data"]] == ["only"]


# -- the loopback policy ---------------------------------------------------

@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("mockllm.example.com", False),
    ],
    ids=["ipv4-loopback", "ipv4-loopback-range", "ipv6-loopback", "localhost", "ipv4-any", "ipv6-any",
         "private-address", "hostname"],
)
def test_is_loopback(host, loopback):
    assert server.is_loopback(host) is loopback


async def test_start_on_loopback_without_a_token_leaves_the_control_routes_open(start_server):
    running = await start_server(speed=50)
    assert running.control_open is True
    assert (await call(running.url, "GET", "/_mockllm/health"))[0] == 200


async def test_start_on_loopback_with_a_token_closes_the_control_routes(start_server):
    running = await start_server(speed=50, admin_token=TOKEN)
    assert running.control_open is False


@pytest.fixture
async def beyond_loopback_policy():
    """An app built as ``server.start`` builds it for a non-loopback address
    with no token (``control_open=False``), served on 127.0.0.1.

    ``start`` decides ``control_open`` from the address it binds, and a test
    must not bind beyond loopback; building the app with the flag it would
    get and serving it through aiohttp's TestServer on 127.0.0.1 is the only
    way to reach the "bound beyond loopback, no token" branch.
    """
    settings = Settings(load_library(["builtin"]), speed=50)
    test_server = TestServer(make_app(settings, control_open=False), host="127.0.0.1")
    await test_server.start_server()
    yield str(test_server.make_url("")).rstrip("/")
    await test_server.close()


@pytest.mark.parametrize(("method", "path", "body", "ok"), CONTROL_ROUTES, ids=ROUTE_IDS)
async def test_beyond_loopback_with_no_token_the_control_routes_are_403_for_everyone(
    beyond_loopback_policy, method, path, body, ok
):
    for headers in ({}, {"Authorization": "Bearer anything"}):
        status, _, data = await call(beyond_loopback_policy, method, path, body, **headers)
        assert status == 403
        assert data["error"]["code"] == "control_disabled"


async def test_beyond_loopback_with_no_token_the_api_still_answers(beyond_loopback_policy):
    async with aiohttp.ClientSession() as session:
        async with session.post(beyond_loopback_policy + CHAT, json=ask("hello", stream=False)) as response:
            assert response.status == 200


# -- what the CLI says -----------------------------------------------------

@pytest.mark.parametrize(
    ("args", "env_token", "policy"),
    [
        (["--admin-token", "x"], None, "need the admin token (Authorization: Bearer ...)"),
        ([], "x", "need the admin token (Authorization: Bearer ...)"),
        ([], None, "open (bound to loopback, no --admin-token)"),
    ],
    ids=["token-flag", "token-env", "no-token"],
)
def test_serve_prints_which_control_policy_applies_on_its_second_line(tmp_path, args, env_token, policy):
    env = {k: v for k, v in os.environ.items() if k != "MOCKLLM_ADMIN_TOKEN"}
    env["PYTHONUNBUFFERED"] = "1"
    if env_token is not None:
        env["MOCKLLM_ADMIN_TOKEN"] = env_token
    command = [sys.executable, "-m", "mockllm", "serve", "--port", "0", *args]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        lines: queue.Queue[str] = queue.Queue()

        def read_two() -> None:
            for _ in range(2):
                lines.put(process.stdout.readline())

        threading.Thread(target=read_two, daemon=True).start()
        first = lines.get(timeout=60)
        second = lines.get(timeout=60)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
    assert first.startswith("mockllm listening on http://127.0.0.1:")
    url = first.split()[-1]
    assert second == f"control routes {url}/_mockllm/: {policy}\n"


# -- broken requests -------------------------------------------------------

async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection; what came back before the server closed it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
        b"GET /_mockllm/health HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: nope\r\n\r\n",
    ],
    ids=["garbage", "binary", "header-without-colon", "bad-content-length"],
)
async def test_malformed_http_gets_a_4xx_and_the_server_answers_the_next_request(start_server, data):
    running = await start_server(speed=50)
    answer = await raw_exchange(running.port, data)
    assert re.match(rb"HTTP/1\.[01] 4\d\d ", answer), answer[:200]
    assert (await call(running.url, "GET", "/_mockllm/health"))[0] == 200


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"model": "hello", "messages": [{"role": "user", "content": "caf\xe9"}]}', "UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'"just a string"', "JSON object"),
    ],
    ids=["not-utf8", "json-list", "json-string"],
)
async def test_a_body_that_is_not_a_utf8_json_object_is_400_in_the_openai_shape(start_server, body, words):
    running = await start_server(speed=50)
    status, headers, data = await call(
        running.url, "POST", CHAT, body, **{"Content-Type": "application/json"}
    )
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert set(data["error"]) == ERROR_KEYS
    assert data["error"]["type"] == "invalid_request_error"
    assert words in data["error"]["message"]
    assert (await call(running.url, "GET", "/_mockllm/health"))[0] == 200
