"""Scenario timing as a client measures it: lower bounds and orderings only.

Timings are measured from just before the request is sent, so every bound
here is one the server must meet however slow the machine is; no test sets
an upper bound tighter than several seconds.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from mockllm import player

from .bursts import Observed, burst_client

CHAT = "/v1/chat/completions"
STREAM_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
SLACK = 0.05  # seconds of timer and scheduling slack allowed under each bound
TIMED = """\
reply: {tokens: ["one", " two", " three", " four", " five", " six"]}
timing: {first_token: 300ms, per_token: 50ms}
"""


async def timed_stream(server, scenario: str) -> tuple[list[float], float]:
    """Arrival time of each content chunk and of the end of the body, from just before sending."""
    arrivals: list[float] = []
    async with aiohttp.ClientSession() as session:
        sent = time.perf_counter()
        async with session.post(
            server.url + CHAT, json=STREAM_BODY, headers={"X-Mockllm-Scenario": scenario}
        ) as response:
            assert response.status == 200
            async for line in response.content:
                if not line.startswith(b"data: {"):
                    continue
                delta = json.loads(line[len(b"data: "):])["choices"][0]["delta"]
                if "content" in delta and "role" not in delta:
                    arrivals.append(time.perf_counter() - sent)
        ended = time.perf_counter() - sent
    return arrivals, ended


async def test_first_token_and_per_token_delays_are_honoured(start_server, write_scenario):
    write_scenario("timed", TIMED)
    server = await start_server([write_scenario.folder], speed=1)
    arrivals, ended = await timed_stream(server, "timed")
    assert len(arrivals) == 6
    # Beats are scheduled at absolute offsets, so token i is due at
    # first_token + i * per_token. A late beat shortens the gap after it;
    # bounding each gap would test the machine's load, not the server.
    due = [0.3 + i * 0.05 for i in range(6)]
    assert all(got >= at - SLACK for got, at in zip(arrivals, due)), list(zip(arrivals, due))
    assert ended >= 0.3 + 6 * 0.05 - SLACK  # the finish chunk comes one per_token after the last token


async def test_longer_first_token_arrives_later(start_server, write_scenario):
    write_scenario("eager", 'reply: {tokens: ["a", "b"]}\ntiming: {first_token: 0}\n')
    write_scenario("hesitant", 'reply: {tokens: ["a", "b"]}\ntiming: {first_token: 400ms}\n')
    server = await start_server([write_scenario.folder], speed=1)
    eager, _ = await timed_stream(server, "eager")
    hesitant, _ = await timed_stream(server, "hesitant")
    assert hesitant[0] >= 0.4 - SLACK
    assert hesitant[0] > eager[0] + 0.2


async def test_speed_divides_every_delay(start_server, write_scenario):
    write_scenario("timed", TIMED)
    slow = await start_server([write_scenario.folder], speed=1)
    fast = await start_server([write_scenario.folder], speed=10)
    slow_arrivals, slow_end = await timed_stream(slow, "timed")
    fast_arrivals, fast_end = await timed_stream(fast, "timed")
    assert len(fast_arrivals) == len(slow_arrivals) == 6
    assert fast_arrivals[0] >= 0.03 - SLACK / 10
    assert fast_end < slow_end
    assert fast_arrivals[0] < slow_arrivals[0]


# -- a client that leaves ----------------------------------------------------------

def streams_playing() -> int:
    """Tasks of this loop currently inside ``player.play`` (the server runs in-process)."""
    count = 0
    for task in asyncio.all_tasks():
        awaited = task.get_coro()
        while awaited is not None:
            if getattr(awaited, "cr_code", None) is player.play.__code__:
                count += 1
                break
            awaited = getattr(awaited, "cr_await", None)
    return count


async def wait_for_streams(count: int, within: float) -> int:
    deadline = time.perf_counter() + within
    while streams_playing() != count and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    return streams_playing()


async def test_client_disconnect_cancels_a_waiting_stream(start_server, write_scenario):
    write_scenario("glacial", 'reply: {tokens: ["never"]}\ntiming: {first_token: 60s}\n')
    write_scenario("quick", 'reply: {tokens: ["ok"]}\n')
    server = await start_server([write_scenario.folder], speed=1)
    async with aiohttp.ClientSession() as session:
        response = await session.post(server.url + CHAT, json=STREAM_BODY, headers={"X-Mockllm-Scenario": "glacial"})
        role = json.loads((await response.content.readline())[len(b"data: "):])
        assert role["choices"][0]["delta"]["role"] == "assistant"
        assert await wait_for_streams(1, within=5) == 1
        response.close()
        assert await wait_for_streams(0, within=5) == 0

        async def ask_again() -> tuple[int, bytes]:
            headers = {"X-Mockllm-Scenario": "quick"}
            async with session.post(server.url + CHAT, json=STREAM_BODY, headers=headers) as again:
                return again.status, await again.read()

        status, body = await asyncio.wait_for(ask_again(), timeout=5)
    assert status == 200
    assert body.endswith(b"data: [DONE]\n\n")


BURST = 400  # requests at once: their start-ups take the loop for 50-200 ms in all
OBSERVED = """\
reply: {text: "%s"}
timing: {first_token: 0, per_token: 10ms}
""" % " ".join(["word"] * 300)


async def test_a_burst_of_new_requests_does_not_hold_up_a_stream_already_playing(start_server, write_scenario):
    """Started all in one turn of the loop, a burst's start-ups hold a
    playing stream, read by a client of its own, for most of the time the
    whole burst takes to start (measured: 0.49-0.67 of it). Taken up a few
    per turn (intake.py), the stream's longest gap is a few turns (0.17-0.25
    of it). An ordering against the burst's own time, so that a slow machine
    slows both sides."""
    write_scenario("observed", OBSERVED)
    write_scenario("burst", 'reply: {text: "hi"}\ntiming: {first_token: 0}\n')
    server = await start_server([write_scenario.folder], speed=1)
    burst = await burst_client(server.port, BURST, "burst")
    assert burst.stdin is not None and burst.stdout is not None
    loop = asyncio.get_running_loop()
    observed = Observed()
    observer = asyncio.create_task(observed.read(server.url + CHAT, {**STREAM_BODY, "model": "observed"}))
    await observed.playing.wait()
    began = loop.time()
    burst.stdin.write(b"go\n")
    await burst.stdin.drain()
    seconds = float(await burst.stdout.readline())
    ended = loop.time()
    await burst.wait()
    await observer
    held = observed.longest_gap(began, ended, margin=0.05)
    assert held < seconds * 0.4, (held, seconds)
