"""``match.prompt`` against hostile prompts, through a real server: the
pattern runs in linear time (RE2), so the worst pattern and prompt cost other
clients nothing; Python's backtracking ``re`` took 31 s on 26 characters."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from .fault_clients import CHAT

BOUND = 5.0  # seconds: generous; backtracking would take minutes on these prompts
EVIL = "name: evil\nmatch: {prompt: '(a+)+$'}\nreply: {text: matched}\n"


def chat(prompt: str) -> dict:
    return {"model": "no-such-model", "messages": [{"role": "user", "content": prompt}], "stream": False}


async def test_a_catastrophic_pattern_and_prompt_cost_other_clients_nothing(start_server):
    running = await start_server()  # the built-ins, with `hello` as the default
    async with aiohttp.ClientSession() as session:
        async with session.post(running.url + "/_mockllm/scenarios", data=EVIL) as response:
            assert response.status == 201

        async def hostile(length: int) -> tuple[int, str]:
            async with session.post(running.url + CHAT, json=chat("a" * length + "!")) as response:
                data = await response.json()
                return response.status, data["choices"][0]["message"]["content"]

        async def probe() -> float:
            began = time.monotonic()
            async with session.get(running.url + "/_mockllm/health") as response:
                assert response.status == 200
            return time.monotonic() - began

        began = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(hostile(n) for n in (26, 40, 100_000)), *(probe() for _ in range(20))), BOUND * 2
        )
        elapsed = time.monotonic() - began
        async with session.post(running.url + CHAT, json=chat("aaaa")) as response:
            matched = (await response.json())["choices"][0]["message"]["content"]
    assert elapsed < BOUND
    assert max(results[3:]) < BOUND
    # No match (the prompt ends in '!'), so the default answers; without the '!' evil does.
    assert [status for status, _ in results[:3]] == [200, 200, 200]
    assert all(text != "matched" for _, text in results[:3])
    assert matched == "matched"
