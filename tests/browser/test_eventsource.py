"""Chromium's own ``EventSource`` against ``/v1/stream/{scenario}``.

Proven by what the page sees (every message, every error with its
``readyState``) and by what the server's journal saw (each request, its
attempt and the ``Last-Event-ID`` it carried). The scenarios announce
``retry: 100`` so the browser reconnects after 0.1 s instead of its 3 s.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

TOKENS = ["The", " first", " try", " breaks", " after", " four", " tokens,", " the", " second", " completes."]
REPLY = "".join(TOKENS)
TIMING = "timing: {first_token: 50ms, per_token: 20ms, retry: 100ms}\n"
DROP_THEN_CLEAN = (
    f"reply: {{tokens: {json.dumps(TOKENS)}}}\n" + TIMING
    + "attempts:\n  - faults: [{drop: {after: 4}}]\n  - faults: []\n"
)
CLEAN = f"reply: {{tokens: {json.dumps(TOKENS)}}}\n" + TIMING

# Every event the page receives, in order: opens, messages (with the id the
# browser holds) and errors (with readyState: 0 reconnecting, 2 closed for
# good). Resolves once the source is CLOSED.
LISTEN = """(url) => new Promise((resolve, reject) => {
    const log = [];
    const source = new EventSource(url);
    window.source = source;
    source.onopen = () => log.push({kind: "open"});
    source.onmessage = (event) => log.push({kind: "message", id: event.lastEventId, data: event.data});
    source.onerror = () => {
        log.push({kind: "error", readyState: source.readyState});
        if (source.readyState === EventSource.CLOSED) resolve(log);
    };
    setTimeout(() => {
        source.close();
        reject(new Error("EventSource not CLOSED after 20 s: " + JSON.stringify(log)));
    }, 20000);
})"""


@pytest.fixture
async def serve(start_server, write_scenario):
    async def start(**scenarios: str):
        for name, text in scenarios.items():
            write_scenario(name, text)
        return await start_server([write_scenario.folder])

    return start


async def journal(server) -> list[dict]:
    """The server's record of the EventSource requests (the browser's own
    ``/favicon.ico`` request is recorded too, and left out here)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/_mockllm/journal") as response:
            entries = (await response.json())["entries"]
    return [e for e in entries if e["route"].startswith("/v1/stream/")]


def shape(log: list[dict]) -> list[str]:
    """The log as a short list: "open", "message", "error 0", "error 2"."""
    return [f"error {e['readyState']}" if e["kind"] == "error" else e["kind"] for e in log]


def text_of(log: list[dict]) -> str:
    pieces = []
    for event in log:
        if event["kind"] != "message" or event["data"] == "[DONE]":
            continue
        payload = json.loads(event["data"])
        if "content" in payload:
            pieces.append(payload["content"])
        elif payload.get("choices"):
            pieces.append(payload["choices"][0]["delta"].get("content") or "")
    return "".join(pieces)


@pytest.mark.parametrize(("format_", "cut"), [("content", 4), ("openai", 5)], ids=["content", "openai"])
async def test_eventsource_reconnects_after_a_drop_and_ends_with_the_whole_reply_exactly_once(
    page, serve, format_, cut
):
    # In the openai format event 1 is the role chunk: four tokens are five events.
    server = await serve(flaky=DROP_THEN_CLEAN)
    await page.goto(server.url + "/_mockllm/health")  # any page of the server's origin
    log = await page.evaluate(LISTEN, f"{server.url}/v1/stream/flaky?format={format_}")

    # [DONE], and in the openai format the role chunk and the finish chunk too
    # (the content format sends no frame for the finish).
    total = len(TOKENS) + 1 + 2 * (format_ == "openai")
    assert shape(log) == (
        ["open"] + ["message"] * cut + ["error 0"]  # the drop, mid-stream: the browser will reconnect
        + ["open"] + ["message"] * (total - cut) + ["error 0"]  # the clean end: it reconnects again
        + ["error 2"]  # the 204: closed for good
    )
    messages = [event for event in log if event["kind"] == "message"]
    assert [m["id"] for m in messages] == [str(n) for n in range(1, total + 1)]  # none lost, none repeated
    assert text_of(log) == REPLY
    assert messages[-1]["data"] == "[DONE]"

    entries = await journal(server)
    assert [(e["status"], e["attempt"], e["outcome"], e["request"]["last_event_id"]) for e in entries] == [
        (200, 1, "dropped", None),
        (200, 2, "completed", str(cut)),
        (204, 3, "completed", str(total)),
    ]
    assert [e["tokens"] for e in entries] == [4, len(TOKENS) - 4, 0]


async def test_a_finished_streams_reconnect_gets_204_and_the_eventsource_stays_closed(page, serve):
    server = await serve(clean=CLEAN)
    await page.goto(server.url + "/_mockllm/health")
    log = await page.evaluate(LISTEN, server.url + "/v1/stream/clean?format=content")
    total = len(TOKENS) + 1  # the content frames and [DONE]: no finish frame
    assert shape(log) == ["open"] + ["message"] * total + ["error 0", "error 2"]
    assert text_of(log) == REPLY
    messages = [event for event in log if event["kind"] == "message"]
    assert [m["id"] for m in messages] == [str(n) for n in range(1, total + 1)]
    assert all("content" in json.loads(m["data"]) for m in messages[:-1])
    assert messages[-1]["data"] == "[DONE]"

    await asyncio.sleep(0.5)  # five retry intervals: a browser that came back would have done so
    assert await page.evaluate("window.source.readyState") == 2
    entries = await journal(server)
    assert [(e["route"], e["status"], e["request"]["last_event_id"]) for e in entries] == [
        ("/v1/stream/clean", 200, None),
        ("/v1/stream/clean", 204, str(total)),
    ]
    assert [e["attempt"] for e in entries] == [1, 2]


@pytest.mark.parametrize("format_", ["content", "openai"])
@pytest.mark.parametrize("scenario", ["drop-reset", "drop-close", "error-event"])
async def test_a_builtin_fault_on_every_attempt_still_lets_the_eventsource_close(page, start_server, scenario, format_):
    # Each connection is cut (or ends in the provider's error) again; the
    # stream still ends: the tail shorter than the cut arrives whole, an
    # error event carries the reply's last id, and the reconnect after is a 204.
    server = await start_server(speed=50)  # retry: 20 ms
    await page.goto(server.url + "/_mockllm/health")
    log = await page.evaluate(LISTEN, f"{server.url}/v1/stream/{scenario}?format={format_}")
    assert shape(log)[-2:] == ["error 0", "error 2"]  # the last reconnect was refused for good
    assert 1 <= shape(log).count("open") <= 6  # a bounded number of connections, not a loop
    messages = [event for event in log if event["kind"] == "message"]
    numbers = [int(m["id"]) for m in messages]
    assert numbers == sorted(set(numbers))  # nothing repeated, in order
    entries = await journal(server)
    assert entries[-1]["status"] == 204 and all(e["status"] == 200 for e in entries[:-1])
    assert entries[-1]["request"]["last_event_id"] == messages[-1]["id"]
    if scenario == "error-event":
        assert len(entries) == 2 and "error" in json.loads(messages[-1]["data"])
        assert text_of(log[:-3]) == "Four tokens arrive, then"  # nothing of the answer after the error
    else:
        assert messages[-1]["data"] == "[DONE]"
        assert numbers == list(range(1, len(numbers) + 1))  # nothing lost either
        assert entries[0]["outcome"] == "dropped"
