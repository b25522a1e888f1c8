"""mockllm proxy: a real upstream's answer relayed as it arrives, with faults
applied live to its frames, seen through the official SDKs.

The upstream is a second mockllm replaying, as raw steps, frames in the
exact shape OpenAI sends (wire-format.md §2.2), 20 ms apart: fixed bytes
with real timing, on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from mockllm.faults import FAULTS
from mockllm.faults.chaos import Chaos, parse_spec
from mockllm.upstream import Upstream
from tests.docs import block_after

from .proxied import ASK, BODY, FRAMES, WORDS, journal, post


async def texts(sdk: openai.AsyncOpenAI, **headers: str) -> tuple[list[str], BaseException | None]:
    """The tokens an app streaming through ``sdk`` gets, and what it raised, if anything."""
    got: list[str] = []
    try:
        stream = await sdk.chat.completions.create(
            model="gpt-5-nano", messages=[{"role": "user", "content": "Say hi"}], stream=True, extra_headers=headers)
        async for part in stream:
            if part.choices and part.choices[0].delta.content:
                got.append(part.choices[0].delta.content)
    except Exception as error:  # what the app would see
        return got, error
    return got, None


@contextlib.asynccontextmanager
async def upstream_sending_body_at_once(
    before: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[Upstream]:
    """A bare upstream on loopback that answers with every frame of ``BODY``
    in one write (after awaiting ``before``, if given); stopped on exit."""
    async def answer(request: web.Request) -> web.StreamResponse:
        if before is not None:
            await before()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(BODY)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield Upstream(f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await runner.cleanup()


@pytest.fixture
async def sdk(proxy):
    server = await proxy()
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-proxy-test", max_retries=0) as client:
        client.server = server
        yield client


async def test_the_proxy_relays_the_upstreams_stream_byte_for_byte_as_it_arrives(proxy, upstream):
    server = await proxy()
    status, headers, reads = await post(server.base_url + "/chat/completions", ASK)
    assert status == 200 and b"".join(reads) == BODY
    assert headers["Content-Type"].startswith("text/event-stream") and "x-request-id" in headers
    assert len(reads) > 3  # frame by frame, not buffered to the end
    [entry] = await journal(server)
    assert entry["upstream_status"] == 200 and entry["outcome"] == "completed" and entry["tokens"] == len(WORDS)


async def test_frames_the_upstream_sends_together_go_on_in_one_write_and_are_each_counted(start_server):
    # One send for what one read brought, as a bare relay makes it, not one a
    # frame: what a stream costs the proxy, and every other stream, per event.
    async with upstream_sending_body_at_once() as upstream:
        server = await start_server(upstream=upstream)
        async with aiohttp.ClientSession() as session, \
                session.post(server.base_url + "/chat/completions", json=ASK) as response:
            writes, held = [], b""
            async for data, ends in response.content.iter_chunks():  # one write is one chunk of the body
                held += data
                if ends:
                    writes, held = [*writes, held], b""
    assert writes == [BODY]
    [entry] = await journal(server)
    assert entry["tokens"] == len(WORDS) and entry["outcome"] == "completed"


async def test_a_fault_in_the_request_header_hits_the_third_token_of_the_real_answer(sdk):
    got, error = await texts(sdk, **{"X-Mockllm-Faults": "drop(after=3)"})
    assert got == WORDS[:3] and isinstance(error, openai.APIConnectionError)
    [entry] = await journal(sdk.server)
    assert entry["faults"] == ["drop(after=3)"] and entry["outcome"] == "dropped" and entry["tokens"] == 3


@pytest.mark.parametrize(("fault", "kept", "raised"), [
    ("malformed(after=2)", 2, json.JSONDecodeError),
    ("error_event(after=4,message=overloaded)", 4, openai.APIError),
    ("drop(after=0,mode=close)", 0, openai.APIConnectionError),
], ids=["malformed", "error_event", "drop-close"])
async def test_each_fault_reaches_the_sdk_as_the_real_providers_failure_would(sdk, fault, kept, raised):
    got, error = await texts(sdk, **{"X-Mockllm-Faults": fault})
    assert got == WORDS[:kept] and isinstance(error, raised), (got, error)


@pytest.mark.parametrize("fault", ["fragment(bytes=5)", "coalesce(events=4)", "line_endings(style=crlf)", "bom"])
async def test_framing_faults_keep_the_real_answer_whole_for_the_sdk(sdk, fault):
    got, error = await texts(sdk, **{"X-Mockllm-Faults": fault})
    assert error is None and got == WORDS


async def test_fragment_cuts_the_real_frames_into_tiny_reads_of_the_same_bytes(proxy):
    server = await proxy()
    _, _, reads = await post(server.base_url + "/chat/completions", ASK, {"X-Mockllm-Faults": "fragment(bytes=7)"})
    assert b"".join(reads) == BODY and max(map(len, reads)) < 100  # a frame is ~250 bytes


async def test_no_done_removes_the_real_terminator_only(proxy):
    server = await proxy()
    _, headers, reads = await post(server.base_url + "/chat/completions", ASK, {"X-Mockllm-Faults": "no_done"})
    assert b"".join(reads) == BODY.removesuffix(b"data: [DONE]\n\n") and headers["X-Mockllm-Faults"] == "no_done"


async def test_a_stall_holds_the_real_stream_where_it_falls(sdk):
    loop = asyncio.get_running_loop()
    times = []
    stream = await sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"X-Mockllm-Faults": "stall(after=2,for=0.4s)"})
    async for part in stream:
        if part.choices and part.choices[0].delta.content:
            times.append(loop.time())
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert len(times) == len(WORDS) and max(gaps) == gaps[1]  # the silence is after the second token
    assert gaps[1] > 5 * sorted(gaps)[len(gaps) // 2]


def rule(tmp_path, text: str):
    """A rules file of its own, beside (not among) the upstream's scenarios."""
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


async def test_a_rule_with_attempts_fails_once_before_the_upstream_is_called_then_relays(
        start_server, upstream, tmp_path):
    rules = rule(tmp_path, "name: flaky\nmatch: {prompt: '(?i)hi'}\n"
                           "attempts:\n  - faults: [{status: {code: 429, headers: {retry-after: '0'}}}]\n"
                           "  - faults: []\n")
    server = await start_server([rules], upstream=Upstream(upstream.url))
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-x", max_retries=1) as client:
        got, error = await texts(client)
    assert error is None and got == WORDS
    first, second = await journal(server)
    assert (first["status"], first["upstream_status"], first["scenario"]) == (429, None, "flaky")
    assert (second["status"], second["upstream_status"], second["attempt"]) == (200, 200, 2)
    assert len(await journal(upstream)) == 1  # the 429 never reached the upstream


async def test_a_rule_applies_only_to_the_requests_it_matches(start_server, upstream, tmp_path):
    rules = rule(tmp_path, "name: poems\nmatch: {prompt: poem}\nfaults: [{drop: {after: 1}}]\n")
    server = await start_server([rules], upstream=Upstream(upstream.url))
    _, headers, reads = await post(server.base_url + "/chat/completions", ASK)
    assert b"".join(reads) == BODY and "X-Mockllm-Faults" not in headers
    poem = {**ASK, "messages": [{"role": "user", "content": "a poem please"}]}
    _, headers, _ = await post(server.base_url + "/chat/completions", poem)
    assert headers["X-Mockllm-Faults"] == "drop(after=1)" and headers["X-Mockllm-Scenario"] == "poems"


async def test_seeded_chaos_strikes_the_same_way_on_every_run(start_server, upstream):
    async def labels(seed: int) -> list[str]:
        server = await start_server(upstream=Upstream(upstream.url), chaos=_chaos("drop=0.5,malformed=0.5"), seed=seed)
        seen = []
        for _ in range(6):
            _, headers, _ = await post(server.base_url + "/chat/completions", ASK)
            seen.append(headers.get("X-Mockllm-Faults", ""))
        return seen

    first = await labels(7)
    assert first == await labels(7) and any(first)


def _chaos(spec: str) -> Chaos:
    return parse_spec(spec, FAULTS)


async def test_a_stream_false_request_keeps_head_faults_and_ignores_stream_faults(proxy):
    server = await proxy()
    status, _, reads = await post(server.base_url + "/chat/completions", {**ASK, "stream": False},
                                  {"X-Mockllm-Faults": "malformed(after=1)"})
    assert status == 200 and json.loads(b"".join(reads))["object"] == "chat.completion"
    [entry] = await journal(server)
    assert entry["ignored_faults"] == ["malformed(after=1)"] and entry["faults"] == ["malformed(after=1)"]


async def test_a_bad_faults_header_is_a_400_in_the_formats_shape_and_never_reaches_the_upstream(proxy, upstream):
    server = await proxy()
    status, _, reads = await post(server.base_url + "/chat/completions", ASK, {"X-Mockllm-Faults": "drpo(after=1)"})
    error = json.loads(b"".join(reads))["error"]
    assert status == 400 and "unknown fault 'drpo'; did you mean 'drop'?" in error["message"]
    assert error["param"] == "X-Mockllm-Faults" and await journal(upstream) == []


async def test_an_upstream_that_refuses_is_a_502_in_each_formats_shape(start_server, unused_tcp_port):
    server = await start_server(upstream=Upstream(f"http://127.0.0.1:{unused_tcp_port}"))
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502 and "could not connect to the upstream" in caught.value.message
    async with anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as refused:
            await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 502 and refused.value.body["type"] == "error"
    [first, second] = await journal(server)
    assert first["status"] == 502 and first["upstream_status"] is None


async def test_an_upstream_that_never_answers_is_a_504_and_the_proxy_stays_up(proxy):
    server = await proxy(upstream_options={"read_timeout": 0.3})
    hang = {**ASK, "messages": [{"role": "user", "content": "hang"}]}
    status, _, reads = await post(server.base_url + "/chat/completions", hang)
    assert status == 504 and "did not answer in time" in json.loads(b"".join(reads))["error"]["message"]
    status, _, reads = await post(server.base_url + "/chat/completions", ASK)
    assert status == 200 and b"".join(reads) == BODY


async def test_an_upstream_that_falls_silent_midway_is_given_up_after_the_timeout(proxy):
    """No byte for the upstream timeout, mid-stream: the client's stream is
    cut (the headers are gone, so no 504 can follow) and the proxy goes on."""
    server = await proxy(upstream_options={"read_timeout": 0.3})
    quiet = {**ASK, "messages": [{"role": "user", "content": "quiet"}]}
    loop = asyncio.get_running_loop()
    began = loop.time()
    status, _, reads = await post(server.base_url + "/chat/completions", quiet)
    took = loop.time() - began
    assert status == 200 and b"".join(reads) == "".join(FRAMES[:2]).encode()
    assert 0.3 <= took < 10, took  # given up once the silence reached the timeout, not when the upstream spoke again
    [entry] = await journal(server)
    assert entry["outcome"] == "dropped" and entry["upstream_status"] == 200
    status, _, reads = await post(server.base_url + "/chat/completions", ASK)
    assert status == 200 and b"".join(reads) == BODY


async def test_an_upstream_that_breaks_its_stream_breaks_the_clients_the_same_way(sdk):
    stream = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "break"}], stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass
    [entry] = await journal(sdk.server)
    assert entry["outcome"] == "dropped" and entry["upstream_status"] == 200


async def test_the_readme_shows_what_the_app_prints_when_the_header_cuts_the_third_token(sdk):
    printed = []
    stream = await sdk.chat.completions.create(
        model="gpt-5-nano", messages=[{"role": "user", "content": "Say hi"}], stream=True,
        extra_headers={"X-Mockllm-Faults": "drop(after=3)"},
    )
    try:
        async for part in stream:
            printed.append(repr(part.choices[0].delta.content))
    except openai.APIConnectionError as error:
        printed.append(f"cut: {error}")
    assert printed == block_after("The header does it for one request:", "text").splitlines()


async def test_an_upstream_whose_tls_fails_is_a_502_saying_so(start_server, upstream):
    server = await start_server(upstream=Upstream(upstream.url.replace("http://", "https://")))
    status, _, reads = await post(server.base_url + "/chat/completions", ASK)
    assert status == 502 and "a TLS error talking to the upstream" in json.loads(b"".join(reads))["error"]["message"]


async def test_serve_answers_a_rule_with_an_error_that_says_what_it_is(start_server, tmp_path):
    server = await start_server([rule(tmp_path, "name: only-faults\nfaults: [drop]\n")], default="only-faults")
    status, _, reads = await post(server.base_url + "/chat/completions", ASK)
    error = json.loads(b"".join(reads))["error"]
    assert status == 500 and error["code"] == "scenario_has_no_reply"
    assert "it is a rule for `mockllm proxy`" in error["message"]


async def test_two_proxies_sharing_a_store_count_a_rules_attempts_as_one(start_server, upstream, tmp_path,
                                                                         redis_server):
    rules = rule(tmp_path, "name: flaky\nmatch: {prompt: '(?i)hi'}\n"
                           "attempts:\n  - faults: [{status: {code: 429, headers: {retry-after: '0'}}}]\n"
                           "  - faults: []\n")
    state = redis_server.url()
    first, second = [await start_server([rules], upstream=Upstream(upstream.url), state=state) for _ in range(2)]
    async with openai.AsyncOpenAI(base_url=first.base_url, api_key="sk-x", max_retries=0) as client:
        _, refused = await texts(client)
    assert isinstance(refused, openai.RateLimitError)
    async with openai.AsyncOpenAI(base_url=second.base_url, api_key="sk-x", max_retries=0) as client:
        got, error = await texts(client)  # the other proxy: attempt 2, relayed
    assert error is None and got == WORDS
    assert [(e["status"], e["attempt"]) for e in await journal(second)] == [(429, 1), (200, 2)]


async def test_150_concurrent_streams_all_reach_the_upstream_without_waiting_on_each_other(start_server):
    """A connection pool with aiohttp's default cap (100) would hold the last
    50 requests until others finished: here none finishes until all 150 are in."""
    streams = 150
    arrived = 0
    everyone = asyncio.Event()

    async def everyone_in() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == streams:
            everyone.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(everyone.wait(), 10)  # a capped pool: the first 100 answer late, the rest later

    async with upstream_sending_body_at_once(before=everyone_in) as upstream:
        server = await start_server(upstream=upstream)
        url = server.base_url + "/chat/completions"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one() -> bytes:
                async with session.post(url, json=ASK) as response:
                    return await response.read()

            loop = asyncio.get_running_loop()
            began = loop.time()
            bodies = await asyncio.gather(*(one() for _ in range(streams)))
            took = loop.time() - began
    assert bodies == [BODY] * streams
    assert everyone.is_set() and took < 10  # all 150 were open at the upstream at once
