"""``mockllm record`` in front of a stand-in provider (``upstream.py``), driven by
each official SDK; then ``serve`` replays what it wrote. The SDK sees the same
reply both times, the replayed body is the provider's recorded bytes, and no
written file holds the API key or the provider's cookie.

    SDK ─▶ record ─▶ stand-in (recorded bytes, gaps)      files ─▶ serve ─▶ SDK, aiohttp
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import anthropic
import ollama
import openai
import pytest
import yaml
from google import genai
from google.genai import types

from mockllm.recording import Recording
from mockllm.upstream import Upstream

from .upstream import KEYS, RECORDINGS, body

Seen = tuple[str, list[tuple[str, dict]]]  # the text and the tool calls an SDK assembled
# A local Ollama asks for no key, but its cloud takes a bearer one, which ollama-python
# sends from OLLAMA_API_KEY: it must stay out of the files just the same.
SECRETS = {**KEYS, "ollama": "ollama-cloud-SECRET-key-0123456789"}


async def openai_sees(url: str, key: str, prompt: str, streamed: bool) -> Seen:
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0) as sdk:
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


async def anthropic_sees(url: str, key: str, prompt: str, streamed: bool) -> Seen:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0) as sdk:
        ask = {"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]}
        async with sdk.messages.stream(**ask) as stream:
            message = await stream.get_final_message()
    return ("".join(b.text for b in message.content if b.type == "text"),
            [(b.name, b.input) for b in message.content if b.type == "tool_use"])


async def gemini_sees(url: str, key: str, prompt: str, streamed: bool) -> Seen:
    def run() -> list[types.GenerateContentResponse]:
        options = types.HttpOptions(base_url=url, api_version="v1beta")
        with genai.Client(api_key=key, http_options=options) as client:
            if streamed:
                return list(client.models.generate_content_stream(model="gemini-3-pro-preview", contents=prompt))
            return [client.models.generate_content(model="gemini-3-pro-preview", contents=prompt)]

    chunks = await asyncio.to_thread(run)  # the sync client: the async one would take google-genai's aiohttp path
    return ("".join(chunk.text or "" for chunk in chunks),
            [(call.name, call.args) for chunk in chunks for call in chunk.function_calls or ()])


async def ollama_sees(url: str, key: str, prompt: str, streamed: bool) -> Seen:
    client = ollama.AsyncClient(host=url, headers={"Authorization": f"Bearer {key}"})
    try:
        messages = [{"role": "user", "content": prompt}]
        parts = ([part async for part in await client.chat(model="llama3.2", messages=messages, stream=True)]
                 if streamed else [await client.chat(model="llama3.2", messages=messages)])
    finally:
        await client.close()
    return ("".join(part.message.content or "" for part in parts),
            [(c.function.name, dict(c.function.arguments)) for part in parts for c in part.message.tool_calls or ()])


SDKS = {"openai": openai_sees, "anthropic": anthropic_sees, "gemini": gemini_sees, "ollama": ollama_sees}


def raw_request(provider: str, prompt: str, streamed: bool) -> tuple[str, dict]:
    """The path and body a hand-written client would post for ``prompt``."""
    if provider == "gemini":
        path = ":streamGenerateContent?alt=sse" if streamed else ":generateContent"
        return "/v1beta/models/gemini-3-pro-preview" + path, {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    paths = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}
    return paths[provider], {"model": "m", "max_tokens": 64, "stream": streamed,
                             "messages": [{"role": "user", "content": prompt}]}


async def raw_body(url: str, provider: str, prompt: str, streamed: bool) -> bytes:
    path, ask = raw_request(provider, prompt, streamed)
    async with aiohttp.ClientSession(auto_decompress=False) as session, session.post(url + path, json=ask) as reply:
        return await reply.read()


def written(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


@pytest.mark.parametrize(("provider", "prompt", "streamed"), list(RECORDINGS),
                         ids=[f"{p}-{'stream' if s else 'whole'}-{q}" for p, q, s in RECORDINGS])
async def test_a_recorded_exchange_replays_the_same_to_the_sdk_and_byte_for_byte(
        start_server, real_upstream, tmp_path, provider, prompt, streamed):
    recording = RECORDINGS[(provider, prompt, streamed)]
    expected: Seen = (recording.text, list(recording.tool_calls))
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    sees = SDKS[provider]
    assert await sees(recorder.url, SECRETS[provider], prompt, streamed) == expected
    [path] = written(out)

    replay = await start_server([out])
    assert await sees(replay.url, "any-key", prompt, streamed) == expected
    assert await raw_body(replay.url, provider, prompt, streamed) == body(provider, prompt, streamed)

    text = path.read_text(encoding="utf-8")
    assert SECRETS[provider] not in text
    assert "upstreamCOOKIE" not in text


async def test_two_questions_make_two_files_each_replayed_for_its_own_question(start_server, real_upstream, tmp_path):
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    for prompt in ("Hello!", "Tell me a joke"):
        await openai_sees(recorder.url, KEYS["openai"], prompt, True)
    assert len(written(out)) == 2

    replay = await start_server([out])
    for prompt in ("Tell me a joke", "Hello!"):
        assert await raw_body(replay.url, "openai", prompt, True) == body("openai", prompt)


async def test_the_recorder_forwards_the_key_and_a_refusal_is_recorded_without_it(start_server, real_upstream,
                                                                                  tmp_path):
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    await anthropic_sees(recorder.url, KEYS["anthropic"], "Tell me a joke", True)
    with pytest.raises(anthropic.AuthenticationError):
        await anthropic_sees(recorder.url, "sk-ant-wrong-key-0123456789", "Tell me a joke", True)
    sent = [seen.headers.get("Authorization") or seen.headers.get("x-api-key") for seen in real_upstream.requests]
    assert sent == [f"Bearer {KEYS['anthropic']}", "Bearer sk-ant-wrong-key-0123456789"]
    texts = [path.read_text(encoding="utf-8") for path in written(out)]
    assert texts and not any(KEYS["anthropic"] in text or "wrong-key" in text for text in texts)


async def test_the_recorded_gaps_are_the_upstreams(start_server, real_upstream, tmp_path):
    """Lower bound only: each recorded sleep is at least most of the stand-in's gap."""
    real_upstream.gap = 0.05
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    await gemini_sees(recorder.url, KEYS["gemini"], "What is the capital of Mexico?", True)
    [path] = written(out)
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
    gaps = [float(step["sleep"].removesuffix("ms")) / 1000 for step in steps if "sleep" in step]
    frames = RECORDINGS[("gemini", "What is the capital of Mexico?", True)].frames
    assert sum(gap >= 0.04 for gap in gaps) >= len(frames) - 1
