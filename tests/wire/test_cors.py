"""A browser page on another origin can call every API route: preflights and
response headers. (The control routes refuse it: test_control_plane_guard.py.)"""

from __future__ import annotations

import aiohttp
import pytest

ORIGIN = "http://localhost:5173"
REQUESTED_HEADERS = ("authorization", "content-type", "x-mockllm-scenario", "x-stainless-retry-count")
CHAT_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


@pytest.mark.parametrize(
    "path",
    ["/v1/chat/completions", "/v1/models", "/no/such/route"],
    ids=["chat", "models", "unknown-path"],
)
async def test_preflight_allows_the_request(builtin, path):
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": ", ".join(REQUESTED_HEADERS),
    }
    async with aiohttp.ClientSession() as session:
        async with session.options(builtin.url + path, headers=headers) as response:
            body = await response.read()
    assert response.status == 204
    assert body == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "post" in listed(response.headers["Access-Control-Allow-Methods"])
    allowed = listed(response.headers["Access-Control-Allow-Headers"])
    for header in REQUESTED_HEADERS:
        assert header in allowed
    assert "*" not in allowed


async def test_preflight_allows_the_standard_headers_even_when_not_asked(builtin):
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    async with aiohttp.ClientSession() as session:
        async with session.options(builtin.url + "/v1/chat/completions", headers=headers) as response:
            assert response.status == 204
            allowed = listed(response.headers["Access-Control-Allow-Headers"])
    assert {"authorization", "content-type", "x-mockllm-scenario", "x-mockllm-session"} <= allowed


async def fetch(server, method: str, path: str, json=None) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, server.url + path, json=json, headers={"Origin": ORIGIN}) as response:
            await response.read()
            return response


@pytest.mark.parametrize(
    ("method", "path", "json", "status", "content_type"),
    [
        ("POST", "/v1/chat/completions", {**CHAT_BODY, "stream": True}, 200, "text/event-stream"),
        ("POST", "/v1/chat/completions", CHAT_BODY, 200, "application/json"),
        ("GET", "/v1/models", None, 200, "application/json"),
        ("POST", "/v1/chat/completions", {**CHAT_BODY, "messages": []}, 400, "application/json"),
        ("GET", "/no/such/route", None, 404, "application/json"),
    ],
    ids=["stream", "json", "models", "bad-request", "not-found"],
)
async def test_responses_are_readable_cross_origin(builtin, method, path, json, status, content_type):
    response = await fetch(builtin, method, path, json)
    assert response.status == status
    assert response.content_type == content_type
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = listed(response.headers["Access-Control-Expose-Headers"])
    assert {"x-request-id", "retry-after"} <= exposed
