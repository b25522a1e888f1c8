"""Every class of status a fault may send arrives whole through a real socket.
The classes it may not send (1xx, 204, 304: no body by definition, so the
client misreads the body as the next response) are refused when parsed; see
tests/unit/test_hostile_scenarios.py."""

from __future__ import annotations

import aiohttp
import pytest

from .fault_clients import CHAT, ask

CODES = [200, 205, 299, 302, 399, 418, 451, 599]


@pytest.mark.parametrize("fault", ["status: {code: CODE}", "content_type: {status: CODE, body: whole body}"],
                         ids=["status", "content_type"])
@pytest.mark.parametrize("code", CODES, ids=[str(code) for code in CODES])
async def test_an_allowed_status_arrives_with_its_whole_body(start_server, write_scenario, fault, code):
    write_scenario("s", f"reply: {{text: hi}}\nfaults:\n  - {fault.replace('CODE', str(code))}\n")
    running = await start_server([write_scenario.folder])
    async with aiohttp.ClientSession() as session:
        async with session.post(running.url + CHAT, json=ask("s"), allow_redirects=False) as response:
            body = await response.read()
            assert response.status == code
            assert int(response.headers["Content-Length"]) == len(body) > 0
    assert body == b"whole body" if fault.startswith("content_type") else b'"error"' in body
