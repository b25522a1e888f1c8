"""Verdicts on browser clients: Chromium's own ``EventSource`` resumes with
``Last-Event-ID`` and waits the ``retry:`` it was given; a ``ReconnectingSSE``
reader as front-end tutorials write it (a fetch loop that reconnects at once
on error) neither backs off nor resumes."""

from __future__ import annotations

import aiohttp
import pytest

from .test_eventsource import DROP_THEN_CLEAN, LISTEN

# A tutorial's reconnecting reader: fetch, read until the stream breaks, then
# fetch again at once; no Last-Event-ID, no backoff. Bounded by ``attempts``.
RECONNECTING_SSE = """async ([url, attempts]) => {
    let text = "";
    for (let attempt = 0; attempt < attempts; attempt++) {
        try {
            const response = await fetch(url);
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            for (;;) {
                const {value, done} = await reader.read();
                if (done) return text;
                text += decoder.decode(value, {stream: true});
            }
        } catch (error) {
            // reconnect right away
        }
    }
    return text;
}"""
ALWAYS_CUT = 'reply: {text: "One two three four five six."}\nfaults: [{drop: {after: 2}}]\n'


@pytest.fixture
async def server(start_server, write_scenario):
    write_scenario("flaky", DROP_THEN_CLEAN)
    write_scenario("always-cut", ALWAYS_CUT)
    return await start_server([write_scenario.folder])


async def verdicts(server, session: str) -> dict[str, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/verdicts", params={"session": session}) as response:
            return (await response.json())["verdicts"]


async def test_chromium_eventsource_resumes_with_last_event_id_and_waits_its_retry(page, server):
    await page.goto(server.url + "/_mockllm/health")
    await page.evaluate(LISTEN, f"{server.url}/v1/stream/flaky?format=content&session=browser")
    judged = await verdicts(server, "browser")
    resumed = judged["resumed_with_last_event_id"]
    assert resumed["result"] == "pass", resumed
    assert [(e["delivered"], e["sent"]) for e in resumed["evidence"]][0] == (4, "4")  # resumed after the drop
    backed = judged["backed_off"]
    assert backed["result"] == "pass", backed
    assert backed["evidence"][0]["asked"] == 0.1  # the stream's retry: 100


async def test_a_reconnecting_fetch_loop_fails_backed_off_and_resumed(page, server):
    await page.goto(server.url + "/_mockllm/health")
    await page.evaluate(RECONNECTING_SSE, [f"{server.url}/v1/stream/always-cut?format=content&session=loop", 4])
    judged = await verdicts(server, "loop")
    backed = judged["backed_off"]
    assert backed["result"] == "fail", backed
    assert len(backed["evidence"]) == 3 and all(e["result"] == "fail" for e in backed["evidence"])
    assert all(e["asked"] == 1.0 and e["waited"] < 1.0 for e in backed["evidence"])  # retry: 1000 ignored
    resumed = judged["resumed_with_last_event_id"]
    assert resumed["result"] == "fail" and all(e["sent"] is None for e in resumed["evidence"])
