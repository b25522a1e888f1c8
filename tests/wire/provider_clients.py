"""How each official SDK, and a hand-written aiohttp client, asks a provider
for one recorded prompt (``upstream_recordings``) through any base URL: the
stand-in itself, ``mockllm record`` or ``proxy`` in front of it, or ``serve``
replaying what was recorded. Each ``*_sees`` answers what the SDK assembled.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import anthropic
import ollama
import openai
from google import genai
from google.genai import types

from .upstream import KEYS

Seen = tuple[str, list[tuple[str, dict]]]  # the text and the tool calls an SDK assembled
# A local Ollama asks for no key, but its cloud takes a bearer one, which ollama-python
# sends from OLLAMA_API_KEY: it must stay out of the files just the same.
SECRETS = {**KEYS, "ollama": "ollama-cloud-SECRET-key-0123456789"}


async def openai_sees(url: str, key: str, prompt: str, streamed: bool, headers: dict | None = None) -> Seen:
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, default_headers=headers) as sdk:
        messages = [{"role": "user", "content": prompt}]
        if not streamed:
            message = (await sdk.chat.completions.create(model="gpt-5-nano", messages=messages)).choices[0].message
            return message.content or "", [(c.function.name, json.loads(c.function.arguments))
                                            for c in message.tool_calls or ()]
        text, calls = "", {}
        async for chunk in await sdk.chat.completions.create(model="gpt-5-nano", messages=messages, stream=True):
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for delta in choice.delta.tool_calls or ():
                    name, arguments = calls.get(delta.index, ("", ""))
                    calls[delta.index] = (name + (delta.function.name or ""), arguments + (delta.function.arguments or ""))
        return text, [(name, json.loads(arguments)) for name, arguments in calls.values()]


async def anthropic_sees(url: str, key: str, prompt: str, streamed: bool, headers: dict | None = None) -> Seen:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0, default_headers=headers) as sdk:
        ask = {"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]}
        async with sdk.messages.stream(**ask) as stream:
            message = await stream.get_final_message()
    return ("".join(b.text for b in message.content if b.type == "text"),
            [(b.name, b.input) for b in message.content if b.type == "tool_use"])


async def gemini_sees(url: str, key: str, prompt: str, streamed: bool, headers: dict | None = None) -> Seen:
    def run() -> list[types.GenerateContentResponse]:
        options = types.HttpOptions(base_url=url, api_version="v1beta", headers=headers)
        with genai.Client(api_key=key, http_options=options) as client:
            if streamed:
                return list(client.models.generate_content_stream(model="gemini-3-pro-preview", contents=prompt))
            return [client.models.generate_content(model="gemini-3-pro-preview", contents=prompt)]

    chunks = await asyncio.to_thread(run)  # the sync client: the async one would take google-genai's aiohttp path
    return ("".join(chunk.text or "" for chunk in chunks),
            [(call.name, call.args) for chunk in chunks for call in chunk.function_calls or ()])


async def ollama_sees(url: str, key: str, prompt: str, streamed: bool, headers: dict | None = None) -> Seen:
    client = ollama.AsyncClient(host=url, headers={"Authorization": f"Bearer {key}", **(headers or {})})
    try:
        messages = [{"role": "user", "content": prompt}]
        parts = ([part async for part in await client.chat(model="llama3.2", messages=messages, stream=True)]
                 if streamed else [await client.chat(model="llama3.2", messages=messages)])
    finally:
        await client.close()
    return ("".join(part.message.content or "" for part in parts),
            [(c.function.name, dict(c.function.arguments)) for part in parts for c in part.message.tool_calls or ()])


SDKS = {"openai": openai_sees, "anthropic": anthropic_sees, "gemini": gemini_sees, "ollama": ollama_sees}


KEY_HEADERS = {"openai": "Authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key", "ollama": "Authorization"}


def raw_request(provider: str, prompt: str, streamed: bool) -> tuple[str, dict]:
    """The path and body a hand-written client would post for ``prompt``."""
    if provider == "gemini":
        path = ":streamGenerateContent?alt=sse" if streamed else ":generateContent"
        return "/v1beta/models/gemini-3-pro-preview" + path, {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    paths = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}
    return paths[provider], {"model": "m", "max_tokens": 64, "stream": streamed,
                             "messages": [{"role": "user", "content": prompt}]}


async def raw_body(url: str, provider: str, prompt: str, streamed: bool) -> bytes:
    """The body as read off the socket, from a client that sends the provider's key as its SDK does."""
    path, ask = raw_request(provider, prompt, streamed)
    key = SECRETS[provider]
    headers = {KEY_HEADERS[provider]: f"Bearer {key}" if KEY_HEADERS[provider] == "Authorization" else key}
    async with aiohttp.ClientSession(auto_decompress=False) as session, \
            session.post(url + path, json=ask, headers=headers) as reply:
        return await reply.read()
