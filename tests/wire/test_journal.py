"""The journal, as ``GET /_mockllm/journal`` shows it: one entry per exchange
with what was asked, what was sent and how it ended, as real clients cause it
(the official SDK retrying, an aiohttp client walking away mid-stream)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from .fault_clients import CHAT, MESSAGES, ask, contents_of, raw, sdk

JOURNAL = "/_mockllm/journal"
TOKENS = ["one", " two", " three", " four", " five", " six", " seven", " eight"]
REPLY = f"reply: {{tokens: {json.dumps(TOKENS)}}}\n"


async def read_all(server, model: str, **headers: str) -> bytes:
    """The body a streaming request got, up to wherever the server cut it."""
    received = b""
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=ask(model), headers=headers) as response:
            try:
                async for data in response.content.iter_any():
                    received += data
            except aiohttp.ClientPayloadError:  # the drop: the chunked body never finished
                pass
    return received


async def entries(server, **query: str) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + JOURNAL, params=query) as response:
            assert response.status == 200
            return (await response.json())["entries"]


async def wait_for_entries(server, count: int, deadline: float = 5.0) -> list[dict]:
    """The journal once it holds ``count`` entries: a handler cancelled by a
    client's disconnect records its entry a moment after the client has left."""
    give_up = time.monotonic() + deadline
    while True:
        found = await entries(server)
        if len(found) >= count or time.monotonic() > give_up:
            return found
        await asyncio.sleep(0.02)


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(yaml, **settings)``: a server whose scenario ``s`` is that YAML."""

    async def start(text: str, **settings):
        write_scenario("s", text)
        return await start_server([write_scenario.folder], **settings)

    return start


# -- what an entry holds -------------------------------------------------------

async def test_a_completed_stream_is_one_entry_with_everything_that_happened(serve):
    server = await serve(REPLY + "timing: {first_token: 50ms}\n")
    before = time.time()
    reply = await raw(server, "s", **{"X-Mockllm-Session": "alice"})
    after = time.time()
    [entry] = await entries(server)
    assert reply.status == 200
    assert entry["id"] == 1
    assert before <= entry["time"] <= after
    assert (entry["method"], entry["route"], entry["status"]) == ("POST", CHAT, 200)
    assert (entry["scenario"], entry["session"], entry["attempt"]) == ("s", "alice", 1)
    assert entry["client_retry_count"] is None  # aiohttp sends no x-stainless-retry-count
    assert entry["request"] == ask("s")
    assert entry["faults"] == [] and entry["ignored_faults"] == []
    assert entry["outcome"] == "completed"
    assert entry["tokens"] == len(TOKENS) == len(contents_of(reply.body))
    assert entry["bytes"] == len(reply.body)
    assert entry["duration"] >= 0.05
    assert entry["error"] is None


async def test_the_sdk_retrying_a_429_twice_gives_three_entries_with_attempts_and_its_retry_counts(serve):
    limited = "{faults: [{status: {code: 429, headers: {retry-after-ms: '10'}}}]}"
    server = await serve(REPLY + f"attempts:\n  - {limited}\n  - {limited}\n  - {{faults: []}}\n")
    async with sdk(server, max_retries=2) as client:
        stream = await client.chat.completions.create(model="s", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "".join(TOKENS)
    found = await entries(server)
    assert [e["attempt"] for e in found] == [1, 2, 3]
    assert [e["client_retry_count"] for e in found] == [0, 1, 2]
    assert [e["status"] for e in found] == [429, 429, 200]
    # An HTTP error the scenario asked for is the response going out as planned.
    assert [e["outcome"] for e in found] == ["completed"] * 3
    assert [e["tokens"] for e in found] == [0, 0, len(TOKENS)]
    assert all(e["faults"][0].startswith("status(") for e in found[:2])
    assert found[2]["faults"] == []
    assert len({e["session"] for e in found}) == 1


@pytest.mark.parametrize(
    ("header", "recorded"),
    [(b"3", 3), ("\u00b2".encode(), None), (b"9" * 5000, None), (b"1_0", None), (b"-1", None)],
    ids=["digits", "superscript-two", "five-thousand-digits", "underscore", "negative"],
)
async def test_an_odd_retry_count_header_is_recorded_as_none_and_the_exchange_still_journaled(
    serve, header, recorded
):
    # Raw bytes, as a client may send them: aiohttp's client would refuse some of these.
    server = await serve(REPLY)
    payload = json.dumps(ask("s", stream=False)).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nx-stainless-retry-count: " + header + b"\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    )
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    [entry] = await wait_for_entries(server, 1)
    assert entry["client_retry_count"] == recorded
    assert entry["outcome"] == "completed"


async def test_a_large_request_body_is_kept_truncated_to_4096_characters(serve):
    server = await serve(REPLY)
    body = json.dumps({"model": "s", "messages": [{"role": "user", "content": "x" * 5000}]})
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, data=body, headers={"Content-Type": "application/json"}) as response:
            assert response.status == 200
            await response.read()
    [entry] = await entries(server)
    assert entry["request"] == body[:4096] + "…"
    assert entry["outcome"] == "completed"


@pytest.mark.parametrize("mode", ["reset", "close"])
async def test_a_drop_is_recorded_as_dropped_with_the_tokens_before_the_cut(serve, mode):
    server = await serve(REPLY + f"faults: [{{drop: {{after: 3, mode: {mode}}}}}]\n")
    body = await read_all(server, "s")
    [entry] = await entries(server)
    assert contents_of(body) == TOKENS[:3]
    assert entry["outcome"] == "dropped"
    assert entry["tokens"] == 3
    assert entry["faults"][0].startswith("drop(")
    assert entry["bytes"] == len(body)


@pytest.mark.parametrize("read", [1, 3], ids=["after-1-token", "after-3-tokens"])
async def test_a_client_that_walks_away_mid_stream_is_recorded_with_the_tokens_it_got(serve, read):
    server = await serve(REPLY + "timing: {per_token: 100ms}\n")
    got = 0
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=ask("s")) as response:
            async for line in response.content:
                if line.startswith(b"data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                    got += 1
                    if got == read:
                        break
            response.close()  # walk away: close the connection mid-stream
    [entry] = await wait_for_entries(server, 1)
    assert entry["outcome"] == "client_disconnected"
    # One more token may already have been written when the server noticed.
    assert entry["tokens"] in (read, read + 1)
    assert entry["status"] == 200


async def test_a_client_that_leaves_during_a_long_silent_first_token_wait_is_recorded_with_0_tokens(serve):
    server = await serve(REPLY + "timing: {first_token: 30s}\n")
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=ask("s")) as response:
            assert response.status == 200
            await asyncio.sleep(0.3)  # the server is silent, waiting to send the first token
            response.close()
    [entry] = await wait_for_entries(server, 1)
    assert entry["outcome"] == "client_disconnected"
    assert entry["tokens"] == 0
    assert 0.3 <= entry["duration"] < 30


async def test_a_bad_request_is_recorded_as_an_error_with_its_message(serve):
    server = await serve(REPLY)
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, data=b'{"model": "s", "messages": [') as response:
            assert response.status == 400
            message = (await response.json())["error"]["message"]
    [entry] = await entries(server)
    assert entry["outcome"] == "error"
    assert entry["status"] == 400
    assert entry["error"] == message
    assert "could not parse the JSON body" in entry["error"]
    assert entry["request"] == '{"model": "s", "messages": ['


async def test_an_unknown_route_is_recorded_as_an_error(serve):
    server = await serve(REPLY)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/v1/nowhere") as response:
            assert response.status == 404
    [entry] = await entries(server)
    assert (entry["route"], entry["status"], entry["outcome"]) == ("/v1/nowhere", 404, "error")


async def test_a_non_stream_request_lists_the_stream_only_faults_it_ignored(serve):
    server = await serve(REPLY + "faults: [no_done, {malformed: {after: 1}}]\n")
    reply = await raw(server, "s", stream=False)
    assert reply.status == 200
    [entry] = await entries(server)
    assert entry["faults"] == []
    assert len(entry["ignored_faults"]) == 2
    assert entry["ignored_faults"][0].startswith("no_done")
    assert entry["ignored_faults"][1].startswith("malformed(")
    assert entry["outcome"] == "completed"


async def test_the_control_routes_are_not_journaled(serve):
    server = await serve(REPLY)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/_mockllm/health") as response:
            assert response.status == 200
    assert await entries(server) == []


# -- bounded, and filtered -------------------------------------------------------

async def test_the_journal_keeps_only_the_last_journal_size_entries_with_increasing_ids(serve):
    server = await serve(REPLY, journal_size=3)
    for n in range(5):
        await raw(server, "s", **{"X-Mockllm-Session": f"s{n}"})
    found = await entries(server)
    assert [e["id"] for e in found] == [3, 4, 5]
    assert [e["session"] for e in found] == ["s2", "s3", "s4"]


async def test_the_journal_filters_by_scenario_session_and_outcome(start_server, write_scenario):
    write_scenario("ok", REPLY)
    write_scenario("cut", REPLY + "faults: [{drop: {after: 2}}]\n")
    server = await start_server([write_scenario.folder])
    await raw(server, "ok", **{"X-Mockllm-Session": "a"})
    await read_all(server, "cut", **{"X-Mockllm-Session": "a"})
    await raw(server, "ok", **{"X-Mockllm-Session": "b"})

    assert [(e["scenario"], e["session"]) for e in await entries(server, scenario="ok")] == [("ok", "a"), ("ok", "b")]
    assert [e["scenario"] for e in await entries(server, session="a")] == ["ok", "cut"]
    assert [e["scenario"] for e in await entries(server, outcome="dropped")] == ["cut"]
    assert [e["id"] for e in await entries(server, scenario="ok", session="b")] == [3]
    assert await entries(server, scenario="nope") == []
    assert len(await entries(server)) == 3


async def test_the_sandbox_page_and_its_files_are_not_exchanges(builtin):
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/static/client.js", "/_mockllm/health"):
            async with session.get(builtin.url + path) as response:
                assert response.status == 200
        async with session.get(builtin.url + "/_mockllm/journal") as response:
            assert (await response.json())["entries"] == []
