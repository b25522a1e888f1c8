"""The bytes a client receives are the bytes ``mockllm play`` shows.

The server keeps a compiled script framed (each beat holds its event's body
and the player adds the response's id and padding as it writes); ``play`` and
everything else see the final bytes. The two must never differ: for every
built-in scenario without faults, and every shape of request, the body read
over a real socket equals the planned one for the same seed, session and
attempt.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from mockllm import pipeline
from mockllm.dialects import Call
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.library import load_library

CALL = Call(openai_chat.routes[0])

LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
OPTIONS = {
    "default": {},
    "usage": {"stream_options": {"include_usage": True}},
    "plain": {"stream_options": {"include_obfuscation": False}},
    "usage-plain": {"stream_options": {"include_usage": True, "include_obfuscation": False}},
}
CREATED = re.compile(rb'"created":\d+')  # the server stamps the wall clock


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("scenario", CLEAN, ids=[s.name for s in CLEAN])
async def test_streamed_body_is_byte_for_byte_the_planned_one(start_server, scenario, options):
    speed = 200
    server = await start_server(speed=speed)
    request = {"model": scenario.name, "stream": True, "messages": [{"role": "user", "content": "Hi there."}],
               **options}
    async with aiohttp.ClientSession() as http:
        for attempt in (1, 2):  # a second response has other ids and paddings, and must match too
            async with http.post(server.url + "/v1/chat/completions", json=request,
                                 headers={"X-Mockllm-Session": "wire"}) as response:
                received = await response.read()
            planned = pipeline.plan(scenario, openai_chat.parse(request, CALL), openai_chat,
                                    session="wire", attempt=attempt, speed=speed).body
            assert CREATED.sub(b"", received) == CREATED.sub(b"", planned)
