"""The Gemini routes over raw HTTP: the bytes on the wire, auth, listing, errors."""

from __future__ import annotations

import json

import aiohttp

from mockllm.library import load_library

BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
HELLO = load_library().scenarios["hello"].reply.text


def root(running) -> str:
    return running.base_url.removesuffix("/v1")


async def test_the_sse_stream_is_crlf_data_frames_with_no_terminator(builtin):
    async with aiohttp.ClientSession() as session, session.post(
            f"{root(builtin)}/v1beta/models/hello:streamGenerateContent?alt=sse&key=k", json=BODY) as response:
        raw = await response.read()
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    frames = raw.split(b"\r\n\r\n")
    assert frames[-1] == b"" and all(f.startswith(b"data: {") for f in frames[:-1])
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"]) == HELLO
    assert [("finishReason" in c["candidates"][0], "usageMetadata" in c) for c in chunks][-1] == (True, True)
    assert b"[DONE]" not in raw


async def test_generate_content_with_the_api_key_header(builtin):
    async with aiohttp.ClientSession() as session, session.post(
            f"{root(builtin)}/v1/models/hello:generateContent", json=BODY,
            headers={"x-goog-api-key": "k"}) as response:
        body = await response.read()
        assert response.status == 200 and response.content_type == "application/json"
    assert body.endswith(b"}\n")
    assert json.loads(body)["candidates"][0]["content"]["parts"] == [{"text": HELLO}]


async def test_the_model_list(builtin):
    async with aiohttp.ClientSession() as session, session.get(f"{root(builtin)}/v1beta/models") as response:
        listed = await response.json()
    assert {"name": "models/hello"}.items() <= next(m for m in listed["models"] if m["name"] == "models/hello").items()


async def test_bad_requests_answer_in_googles_error_shape(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{root(builtin)}/v1beta/models/hello:generateContent", json={}) as response:
            error = await response.json(content_type=None)
            assert response.status == 400
        async with session.post(f"{root(builtin)}/v1beta/models/hello:generateContent", data=b"{nope") as response:
            broken = await response.json(content_type=None)
    assert error["error"]["status"] == "INVALID_ARGUMENT" and error["error"]["code"] == 400
    assert "contents is not specified" in error["error"]["message"]
    assert broken["error"]["code"] == 400 and broken["error"]["status"] == "INVALID_ARGUMENT"


async def test_a_429_fault_is_resource_exhausted_with_retry_info(builtin):
    async with aiohttp.ClientSession() as session, session.post(
            f"{root(builtin)}/v1beta/models/rate-limited:streamGenerateContent?alt=sse", json=BODY) as response:
        error = await response.json(content_type=None)
        assert response.status == 429
    assert error["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert error["error"]["details"][-1]["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
