"""Front-end code in Chromium, as people write it, against mockllm.

- A page on another origin streams ``/v1/chat/completions`` with ``fetch``:
  its ``Authorization`` and JSON ``Content-Type`` force a CORS preflight,
  which mockllm must answer for the stream to be readable at all.
- A tutorial-style reader that splits each network read on newlines, with no
  line buffer, reads a clean stream at a mounted ``/api/chat`` correctly and
  is visibly broken by the ``fragment`` fault; a buffered reader is not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from mockllm import server as mockllm_server

TEXT = "Grüße aus 世界 🌍 — a reply that streams word by word, with a few more words."
WORDS = len(TEXT.split(" "))
MOUNTS = (("/api/chat", "content"),)


@pytest.fixture
async def serve(start_server, write_scenario):
    async def start(**settings) -> mockllm_server.RunningServer:
        reply = f"reply: {{text: {json.dumps(TEXT, ensure_ascii=False)}}}\n"
        write_scenario("clean", 'match: {prompt: "(?i)clean"}\n' + reply)
        # 5 ms between the pieces rather than the default 1 ms: Chromium's
        # network service merges pieces that arrive closer together into one
        # read, and this test is about reads that end mid-line.
        write_scenario(
            "fragmented",
            'match: {prompt: "(?i)fragment"}\n' + reply + "faults: [{fragment: {bytes: 7, interval: 5ms}}]\n",
        )
        return await start_server([write_scenario.folder], **settings)

    return start


@pytest.fixture
async def other_origin() -> AsyncIterator[str]:
    """A second origin (another port of 127.0.0.1): a tiny app serving one blank page."""
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>elsewhere</title><p>another origin</p>", content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# -- CORS --------------------------------------------------------------------------

FETCH_CHAT = """async (api) => {
    const response = await fetch(api + "/v1/chat/completions", {
        method: "POST",
        headers: {"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
        body: JSON.stringify({model: "clean", messages: [{role: "user", content: "hi"}], stream: true}),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", text = "", done = false;
    while (true) {
        const {done: end, value} = await reader.read();
        if (end) break;
        buffer += decoder.decode(value, {stream: true});
        const lines = buffer.split("\\n");
        buffer = lines.pop();
        for (const line of lines) {
            if (!line.startsWith("data: ")) continue;
            if (line === "data: [DONE]") { done = true; continue; }
            const chunk = JSON.parse(line.slice(6));
            if (chunk.choices.length) text += chunk.choices[0].delta.content || "";
        }
    }
    return {
        origin: location.origin, status: response.status, type: response.type, text, done,
        requestId: response.headers.get("x-request-id"), scenario: response.headers.get("x-mockllm-scenario"),
    };
}"""


async def test_a_cross_origin_page_streams_chat_completions_with_fetch(page, serve, other_origin):
    server = await serve()
    # DevTools' view of the network shows the preflight, which the page cannot see.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    requests: dict[str, dict] = {}
    sent_headers: dict[str, dict] = {}
    responses: dict[str, tuple[str, int]] = {}
    cdp.on("Network.requestWillBeSent", lambda e: requests.__setitem__(e["requestId"], e["request"]))
    cdp.on("Network.requestWillBeSentExtraInfo", lambda e: sent_headers.__setitem__(e["requestId"], e["headers"]))
    cdp.on("Network.responseReceived", lambda e: responses.__setitem__(e["requestId"], (e["type"], e["response"]["status"])))

    await page.goto(other_origin + "/")
    result = await page.evaluate(FETCH_CHAT, server.url)

    assert result["origin"] == other_origin != server.url
    assert result["type"] == "cors"  # the browser read a cross-origin response, allowed by CORS
    assert (result["status"], result["text"], result["done"]) == (200, TEXT, True)
    assert result["requestId"].startswith("req_")  # an exposed header: readable across origins
    assert result["scenario"] == "clean"
    # The request's headers made the browser ask first, and mockllm said yes.
    # DevTools' events come on a channel of their own, in no set order with
    # ``evaluate``'s answer: the preflight's may still be on its way.
    await _seen(lambda: any(request["method"] == "OPTIONS" for request in requests.values()))
    [preflight] = [key for key, request in requests.items() if request["method"] == "OPTIONS"]
    await _seen(lambda: preflight in responses and preflight in sent_headers)
    assert requests[preflight]["url"] == server.url + "/v1/chat/completions"
    assert responses[preflight] == ("Preflight", 204)
    asked = sent_headers[preflight]["Access-Control-Request-Headers"].split(",")
    assert sorted(asked) == ["authorization", "content-type"]


async def _seen(event: Callable[[], bool], within: float = 10.0) -> None:
    """Return once ``event`` holds; ``within`` seconds bound the wait (the assertions after it then fail)."""
    deadline = asyncio.get_running_loop().time() + within
    while not event() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


async def test_a_cross_origin_fetch_is_refused_where_cors_is_missing(page, other_origin, start_server):
    # The control for the test above: the same page and request against a
    # server that answers without CORS headers fail, so that test's success
    # is mockllm's CORS at work, not a browser that does not check.
    app = web.Application()

    async def bare(request: web.Request) -> web.Response:
        return web.Response(text="data: [DONE]\n\n", content_type="text/event-stream")

    app.router.add_route("*", "/v1/chat/completions", bare)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await page.goto(other_origin + "/")
        error = await page.evaluate(
            f"(api) => ({FETCH_CHAT})(api).then(() => 'read', (e) => e.name + ': ' + e.message)",
            f"http://127.0.0.1:{runner.addresses[0][1]}",
        )
    finally:
        await runner.cleanup()
    assert error == "TypeError: Failed to fetch"


# -- naive and buffered readers at a mounted /api/chat ----------------------------------

# The loop of countless tutorials: each read decoded on its own and split on
# newlines, every "data: " line parsed as if it were whole. The JSON errors
# are caught and recorded (many tutorials do not even catch them).
NAIVE = """async (message) => {
    const response = await fetch("/api/chat", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({message}),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "", reads = 0;
    const errors = [];
    while (true) {
        const {done, value} = await reader.read();
        if (done) break;
        reads++;
        for (const line of decoder.decode(value).split("\\n")) {
            if (line.startsWith("data: ") && line !== "data: [DONE]") {
                try {
                    const {content} = JSON.parse(line.slice(6));
                    if (content) text += content;
                } catch (error) {
                    errors.push(error.name);
                }
            }
        }
    }
    return {text, errors, reads, status: response.status};
}"""

# The same loop done right: a streaming decoder and a buffer for the partial line.
BUFFERED = """async (message) => {
    const response = await fetch("/api/chat", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({message}),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "", reads = 0, buffer = "";
    const errors = [];
    while (true) {
        const {done, value} = await reader.read();
        if (done) break;
        reads++;
        buffer += decoder.decode(value, {stream: true});
        const lines = buffer.split("\\n");
        buffer = lines.pop();
        for (const line of lines) {
            if (line.startsWith("data: ") && line !== "data: [DONE]") {
                try {
                    const {content} = JSON.parse(line.slice(6));
                    if (content) text += content;
                } catch (error) {
                    errors.push(error.name);
                }
            }
        }
    }
    return {text, errors, reads, status: response.status};
}"""


async def test_a_naive_reader_reads_a_clean_stream_at_a_mount_correctly(page, serve):
    server = await serve(mounts=MOUNTS)
    await page.goto(server.url + "/_mockllm/health")
    result = await page.evaluate(NAIVE, "a clean answer please")
    assert (result["status"], result["text"], result["errors"]) == (200, TEXT, [])


async def test_a_naive_reader_is_visibly_broken_by_fragmented_writes(page, serve):
    server = await serve(mounts=MOUNTS)
    await page.goto(server.url + "/_mockllm/health")
    result = await page.evaluate(NAIVE, "a fragmented answer please")
    assert result["status"] == 200
    assert result["reads"] > WORDS  # the writes reached the page as many small reads
    assert result["text"] != TEXT
    assert len(result["text"]) < len(TEXT)  # tokens lost, not just garbled
    assert "SyntaxError" in result["errors"]  # halves of lines handed to JSON.parse


@pytest.mark.parametrize("message", ["a clean answer please", "a fragmented answer please"], ids=["clean", "fragmented"])
async def test_a_buffered_reader_gets_the_exact_text_even_from_fragments(page, serve, message):
    server = await serve(mounts=MOUNTS)
    await page.goto(server.url + "/_mockllm/health")
    result = await page.evaluate(BUFFERED, message)
    assert (result["status"], result["text"], result["errors"]) == (200, TEXT, [])
    if "fragment" in message:
        assert result["reads"] > WORDS  # the same small reads the naive reader choked on


# -- failures a browser replays, and failures it shows -------------------------------

# A "simple" cross-origin POST (text/plain, no custom headers: no preflight),
# so the page decides whether the POST goes on a fresh connection to mockllm
# or on one a first GET left open. The scenario is the model, the session
# comes in the query. Returns what the page saw.
FETCH_ONCE = """async ([api, scenario, session, reuse]) => {
    if (reuse) await (await fetch(api + "/v1/models")).text();  // leaves a kept-alive connection
    let response;
    try {
        response = await fetch(api + "/v1/chat/completions?session=" + session, {
            method: "POST", headers: {"Content-Type": "text/plain"},
            body: JSON.stringify({model: scenario, messages: [{role: "user", content: "hi"}], stream: true}),
        });
    } catch (error) {
        return {fetch: "rejected", error: error.name + ": " + error.message};
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let body = "";
    try {
        while (true) {
            const {done, value} = await reader.read();
            if (done) break;
            body += decoder.decode(value, {stream: true});
        }
    } catch (error) {
        const failure = error.name + ": " + error.message;
        return {fetch: "resolved", status: response.status, read: "rejected", error: failure, body};
    }
    return {fetch: "resolved", status: response.status, read: "done", body};
}"""


async def chat_journal(server) -> list[tuple[int, str, int]]:
    """(attempt, outcome, tokens) of each chat request the server saw."""
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/_mockllm/journal") as response:
            entries = (await response.json())["entries"]
    return [(e["attempt"], e["outcome"], e["tokens"]) for e in entries if e["route"] == "/v1/chat/completions"]


@pytest.mark.parametrize("reuse", [False, True], ids=["fresh-connection", "reused-connection"])
async def test_a_reset_after_the_headers_is_seen_by_fetch_and_never_replayed(page, start_server, other_origin, reuse):
    server = await start_server(speed=50)
    await page.goto(other_origin + "/")
    first = await page.evaluate(FETCH_ONCE, [server.url, "reset-after-headers-then-ok", "s1", reuse])
    assert (first["fetch"], first["status"], first["read"]) == ("resolved", 200, "rejected")
    assert first["error"] == "TypeError: network error" and first["body"] == ""
    assert await chat_journal(server) == [(1, "dropped", 0)]  # one request: the browser did not replay it
    again = await page.evaluate(FETCH_ONCE, [server.url, "reset-after-headers-then-ok", "s1", reuse])
    assert (again["fetch"], again["status"], again["read"]) == ("resolved", 200, "done")  # the page's own retry
    assert "Second time lucky" in "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in again["body"].split("\n") if line.startswith("data: {")
    )


async def test_flaky_then_ok_fails_fetch_on_a_fresh_connection(page, start_server, other_origin):
    server = await start_server(speed=50)
    await page.goto(other_origin + "/")
    seen = await page.evaluate(FETCH_ONCE, [server.url, "flaky-then-ok", "s1", False])
    assert seen == {"fetch": "rejected", "error": "TypeError: Failed to fetch"}
    assert await chat_journal(server) == [(1, "dropped", 0)]


async def test_chromium_replays_flaky_then_ok_silently_on_a_reused_connection(page, start_server, other_origin):
    # The reset comes before any response byte on a connection that has served
    # a request: Chromium takes it for a keep-alive race and sends the POST
    # again, so the page sees a normal reply and never the failure.
    server = await start_server(speed=50)
    await page.goto(other_origin + "/")
    seen = await page.evaluate(FETCH_ONCE, [server.url, "flaky-then-ok", "s1", True])
    assert (seen["fetch"], seen["status"], seen["read"]) == ("resolved", 200, "done")
    assert seen["body"].endswith("data: [DONE]\n\n")
    assert await chat_journal(server) == [(1, "dropped", 0), (2, "completed", 9)]  # two POSTs, one fetch()
