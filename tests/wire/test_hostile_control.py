"""Hostile scenario text posted to ``POST /_mockllm/scenarios``: a 422 naming
each problem's line, never a 500, and the server keeps answering."""

from __future__ import annotations

import aiohttp
import pytest

from tests.unit.test_hostile_scenarios import HOSTILE

# The control route's body limit answers the oversized text before parsing.
CASES = [case for case in HOSTILE if case[0] != "too-big"]


@pytest.mark.parametrize(("text", "line"), [case[1:3] for case in CASES], ids=[case[0] for case in CASES])
async def test_hostile_text_is_a_422_with_located_problems(start_server, text, line):
    running = await start_server()
    async with aiohttp.ClientSession() as session:
        async with session.post(running.url + "/_mockllm/scenarios", data=text) as response:
            data = await response.json()
            assert response.status == 422, data
        assert line in [problem["line"] for problem in data["problems"]]
        assert all(problem["line"] and problem["message"] for problem in data["problems"])
        async with session.get(running.url + "/_mockllm/health") as response:
            assert response.status == 200
