"""Through the proxy, each fault meets the openai, Anthropic and google-genai
SDKs as it does when mockllm serves it, which the other wire tests hold to
what the real providers' failures do (wire-format.md §8, §13.6).

Two servers of the same scenarios: one serves ``plain`` cleanly, behind the
proxy that injects the fault from the ``X-Mockllm-Faults`` header; the other
serves the same reply with the fault in the scenario. The app must see the
same tokens and the same error either way, in every format.
"""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from mockllm.parse import label_as_yaml
from mockllm.upstream import Upstream

TEXT = "One two three four five six seven"
FAULTS = [
    "drop(after=3)", "drop(after=3,mode=close)", "malformed(after=2)", "malformed(after=2,kind=bad_utf8)",
    "error_event(after=3)", "no_done", "no_finish", "fragment(bytes=5)", "coalesce(events=3)",
    "line_endings(style=cr)", "bom", "stall(after=2,for=0.2s)", "status(code=503)", "status(code=429)",
    "content_type", "duplicate_done",
]


@pytest.fixture
async def pair(start_server, write_scenario):
    """(served, proxied): a server with the fault in each scenario, and a proxy
    in front of a clean one."""
    write_scenario("plain", f"name: plain\nreply: {{text: {TEXT}}}\n")
    for i, label in enumerate(FAULTS):
        write_scenario(f"f{i}", f"name: f{i}\nreply: {{text: {TEXT}}}\nfaults: [{label_as_yaml(label)}]\n")
    served = await start_server([write_scenario.folder], speed=20)
    proxied = await start_server(upstream=Upstream(served.url))
    return served, proxied


async def openai_sees(url: str, model: str, headers: dict) -> tuple[tuple[str, ...], str]:
    got: list[str] = []
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0, default_headers=headers) as sdk:
        try:
            stream = await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                       stream=True)
            async for part in stream:
                if part.choices and part.choices[0].delta.content:
                    got.append(part.choices[0].delta.content)
        except Exception as error:
            return tuple(got), type(error).__name__
    return tuple(got), ""


async def anthropic_sees(url: str, model: str, headers: dict) -> tuple[tuple[str, ...], str]:
    got: list[str] = []
    async with anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0, default_headers=headers) as sdk:
        try:
            async with sdk.messages.stream(model=model, max_tokens=50,
                                           messages=[{"role": "user", "content": "hi"}]) as stream:
                async for text in stream.text_stream:
                    got.append(text)
        except Exception as error:
            return tuple(got), type(error).__name__
    return tuple(got), ""


async def gemini_sees(url: str, model: str, headers: dict) -> tuple[tuple[str, ...], str]:
    def run() -> tuple[tuple[str, ...], str]:
        got: list[str] = []
        client = genai.Client(api_key="k", http_options=types.HttpOptions(
            base_url=url, api_version="v1beta", headers=headers, retry_options=types.HttpRetryOptions(attempts=1)))
        try:
            for chunk in client.models.generate_content_stream(model=model, contents="hi"):
                if chunk.text:
                    got.append(chunk.text)
        except Exception as error:
            return tuple(got), type(error).__name__
        finally:
            client.close()
        return tuple(got), ""
    return await asyncio.to_thread(run)


SDKS = {"openai": openai_sees, "anthropic": anthropic_sees, "google-genai": gemini_sees}


@pytest.mark.parametrize("sdk", SDKS)
async def test_each_fault_through_the_proxy_meets_the_sdk_as_it_does_when_served(pair, sdk):
    served, proxied = pair
    sees = SDKS[sdk]
    for i, label in enumerate(FAULTS):
        direct = await sees(served.url, f"f{i}", {})
        through = await sees(proxied.url, "plain", {"X-Mockllm-Faults": label})
        assert through == direct, f"{sdk}, {label}: proxied {through}, served {direct}"
    clean = await sees(proxied.url, "plain", {})
    assert "".join(clean[0]) == TEXT and clean[1] == ""
