"""The clients the fault tests watch a stream through, each as a user would
hold it: the official SDK, aiohttp reading raw body slices, and a bare socket
that can tell an RST (``ConnectionResetError``) from a FIN (a clean EOF short
of the chunked terminator ``0\\r\\n\\r\\n``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import aiohttp
import openai
from multidict import CIMultiDict
from openai.types.chat import ChatCompletionChunk

from .raw_post import json_post

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]
CHUNKED_END = b"0\r\n\r\n"


def ask(model: str, *, stream: bool = True) -> dict:
    return {"model": model, "messages": MESSAGES, "stream": stream}


def sdk(server, **options) -> openai.AsyncOpenAI:
    """An SDK client for ``server``; no retries unless ``max_retries`` is given."""
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", **options)


async def stream(client: openai.AsyncOpenAI, model: str, chunks: list[ChatCompletionChunk]) -> str:
    """Stream ``model`` through the SDK, appending every chunk to ``chunks`` as it
    arrives (so a test still sees what came before an exception); the text."""
    response = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    async for chunk in response:
        chunks.append(chunk)
    return text_of(chunks)


def tokens_of(chunks: list[ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(tokens_of(chunks))


@dataclass
class RawReply:
    status: int
    headers: CIMultiDict[str]
    reads: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.reads)


async def raw(server, model: str, *, stream: bool = True, **headers: str) -> RawReply:
    """Post through aiohttp and keep every read of the body as it came."""
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=ask(model, stream=stream), headers=headers) as response:
            reply = RawReply(response.status, CIMultiDict(response.headers))
            async for data in response.content.iter_any():
                reply.reads.append(data)
            return reply


def events_of(body: bytes) -> list[dict | str]:
    """Every ``data:`` payload of an LF-framed body: parsed JSON, or ``[DONE]``."""
    payloads = [line[len(b"data: ") :] for line in body.split(b"\n") if line.startswith(b"data: ")]
    return [p.decode() if p == b"[DONE]" else json.loads(p) for p in payloads]


def contents_of(body: bytes) -> list[str]:
    """The content tokens of an LF-framed body, in order."""
    return [
        e["choices"][0]["delta"]["content"]
        for e in events_of(body)
        if isinstance(e, dict) and e.get("choices") and e["choices"][0]["delta"].get("content")
    ]


@dataclass
class SocketEnd:
    received: bytes
    reset: bool  # the read failed with ConnectionResetError (an RST)

    @property
    def head(self) -> bytes:
        return self.received.partition(b"\r\n\r\n")[0]

    @property
    def complete(self) -> bool:
        """The chunked body was finished with its terminator."""
        return self.received.endswith(CHUNKED_END)


async def socket_read(server, model: str) -> SocketEnd:
    """Send one streaming request on a bare socket and read until it ends."""
    payload = json.dumps(ask(model)).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(json_post(CHAT, payload))
    received = b""
    try:
        while data := await reader.read(65536):
            received += data
            if received.endswith(CHUNKED_END):
                break
    except ConnectionResetError:
        return SocketEnd(received, reset=True)
    finally:
        writer.close()
    return SocketEnd(received, reset=False)
