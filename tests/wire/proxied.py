"""What the proxy and record tests share: a stand-in provider's frames, in
the exact shape OpenAI sends them (wire-format.md §2.2), and small clients.

The ``upstream`` fixture (conftest.py) is a second mockllm replaying these
frames as raw steps, ``GAP`` apart: fixed bytes with real timing, on loopback.
"""

from __future__ import annotations

import json

import aiohttp
from multidict import CIMultiDict

WORDS = ["Hi", " there", ",", " 東京", " is", " sunny", " today", "?"]
GAP = "20ms"
SECRET = "sk-proxy-test-0123456789abcdef"  # the API key clients send: it must never reach a recording


def chunk(delta: dict, finish: str | None = None) -> str:
    """A chunk as OpenAI sends it (wire-format.md §2.2)."""
    body = {
        "id": "chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp", "object": "chat.completion.chunk", "created": 1755137933,
        "model": "gpt-5-nano-2025-08-07", "service_tier": "default", "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "obfuscation": "nX",
    }
    return "data: " + json.dumps(body, separators=(",", ":"), ensure_ascii=False) + "\n\n"


FRAMES = [chunk({"role": "assistant", "content": "", "refusal": None})]
FRAMES += [chunk({"content": word}) for word in WORDS]
FRAMES += [chunk({}, "stop"), "data: [DONE]\n\n"]
BODY = "".join(FRAMES).encode()
ASK = {"model": "gpt-5-nano", "messages": [{"role": "user", "content": "Say hi"}], "stream": True}


async def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, CIMultiDict, list[bytes]]:
    """Status, headers and the body's reads, as they arrived (up to a cut, if the stream is cut)."""
    reads: list[bytes] = []
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers or {}) as response:
        try:
            async for part in response.content.iter_any():
                reads.append(part)
        except aiohttp.ClientPayloadError:
            pass
        return response.status, response.headers.copy(), reads


async def journal(server) -> list[dict]:
    async with aiohttp.ClientSession() as session, session.get(server.url + "/_mockllm/journal") as response:
        return (await response.json())["entries"]


