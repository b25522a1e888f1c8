"""Every route of every format in the table sends what ``mockllm play`` shows.

The request is the format's own example (``Dialect.example``), sent over a
real socket; the body read back equals the planned one for the same seed,
session and attempt, stream and not, for every clean built-in scenario.
Adding a format to ``DIALECTS`` adds it here.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from mockllm import pipeline
from mockllm.dialects import DIALECTS, dialect_for
from mockllm.errors import RequestError
from mockllm.library import load_library

LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts and not s.chaos]
ROUTED = [d for d in DIALECTS.values() if d.routes]  # ``content`` is served only where it is mounted
# The server stamps the wall clock; the plan below is made with ``created=0``.
CLOCK = re.compile(rb'"(created|created_at|completed_at)": ?(\d+|"[^"]*")')


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "once"])
@pytest.mark.parametrize("dialect", ROUTED, ids=[d.name for d in ROUTED])
async def test_every_route_sends_the_planned_body(start_server, dialect, stream):
    speed = 500
    server = await start_server(speed=speed)
    async with aiohttp.ClientSession() as http:
        for scenario in CLEAN:
            example = dialect.example(scenario.name, "Hi there.", stream=stream)
            ask = dialect.parse(example.body, example.call)
            for attempt in (1, 2):  # a second response has other ids, and must match too
                async with http.post(server.url + example.path, json=example.body,
                                     headers={"X-Mockllm-Session": "wire"}) as response:
                    received = await response.read()
                    assert response.status == 200, (scenario.name, received[:300])
                planned = pipeline.plan(scenario, ask, dialect, session="wire", attempt=attempt, speed=speed).body
                assert CLOCK.sub(b"", received) == CLOCK.sub(b"", planned), scenario.name


async def test_a_path_no_route_serves_is_a_404_in_the_nearest_formats_shape(start_server):
    server = await start_server()
    async with aiohttp.ClientSession() as http:
        for dialect in ROUTED:
            for route in dialect.routes:
                # A sibling of one of the format's own routes, which no format serves.
                path = re.sub(r"\{[^}]*\}", "x", route.path).rsplit("/", 1)[0] + "/no-such-route"
                async with http.post(server.url + path, json={}) as response:
                    body = await response.read()
                nearest = dialect_for(path)
                assert response.status == 404, path
                assert response.headers["Content-Type"] == nearest.error_content_type, path
                assert body == nearest.error_body(RequestError(404, f"Invalid URL (POST {path})")), path
