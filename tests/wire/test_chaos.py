"""Seeded chaos on the wire: reproducible per seed, visible in a header and the log."""

from __future__ import annotations

import logging

import aiohttp

from mockllm.faults import FAULTS
from mockllm.faults.chaos import parse_spec

BODY = {"model": "chatty", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
SCENARIO = """\
name: chatty
reply: {text: "one two three four five six seven eight nine ten"}
"""
CHAOS = parse_spec("drop=0.3,malformed=0.3,status=0.2,bom=0.2", FAULTS)


async def outcomes(server, requests: int = 15) -> list[tuple]:
    """What a client sees for each request: status, the faults header, and the
    body it managed to read (or the error that ended it)."""
    seen = []
    async with aiohttp.ClientSession() as session:
        for _ in range(requests):
            try:
                async with session.post(server.url + "/v1/chat/completions", json=BODY) as response:
                    faults = response.headers.get("X-Mockllm-Faults")
                    try:
                        body = await response.read()
                    except aiohttp.ClientPayloadError:
                        body = "cut"
                    seen.append((response.status, faults, body if body == "cut" else len(body)))
            except aiohttp.ClientError as exc:
                seen.append(("no response", type(exc).__name__))
    return seen


async def test_a_fresh_server_with_the_same_seed_replays_the_same_chaos(start_server, write_scenario):
    write_scenario("chatty", SCENARIO)
    first = await outcomes(await start_server([write_scenario.folder], seed=11, chaos=CHAOS))
    second = await outcomes(await start_server([write_scenario.folder], seed=11, chaos=CHAOS))
    other = await outcomes(await start_server([write_scenario.folder], seed=12, chaos=CHAOS))
    assert first == second
    assert first != other
    hit = [entry for entry in first if len(entry) == 3 and entry[1]]  # a faults header came back
    assert 0 < len(hit) < len(first)  # at these odds some requests are spared, some hit


async def test_each_response_names_its_drawn_faults_in_a_header_and_the_log(start_server, write_scenario, caplog):
    write_scenario("chatty", SCENARIO)
    server = await start_server([write_scenario.folder], seed=3, chaos=parse_spec("bom=1", FAULTS))
    with caplog.at_level(logging.INFO, logger="mockllm"):
        async with aiohttp.ClientSession() as session:
            async with session.post(server.url + "/v1/chat/completions", json=BODY) as response:
                assert response.headers["X-Mockllm-Faults"] == "bom"
                assert (await response.read()).startswith(b"\xef\xbb\xbfdata: ")
    assert any("scenario=chatty" in r.getMessage() and "faults=bom" in r.getMessage() for r in caplog.records)


async def test_a_scenario_chaos_block_applies_without_server_chaos(start_server, write_scenario):
    write_scenario("chatty", SCENARIO + "chaos: {status: 1}\n")
    server = await start_server([write_scenario.folder])
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + "/v1/chat/completions", json=BODY) as response:
            assert response.status in (429, 500, 502, 503)
            assert response.headers["X-Mockllm-Faults"].startswith("status")
            assert (await response.json())["error"]["type"] in ("requests", "server_error")
