"""The sandbox page at ``/``, driven in headless Chromium as a person would:
pick a scenario, press Send or Stop, read the reply, the timeline and the raw
bytes. Assertions are on what the page shows, and on the server's journal.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from playwright.async_api import Page, expect

from mockllm.library import load_library

BUILTIN = load_library()
FINISHED = re.compile(r"^(done|done, with warnings|error|stopped)$")
SLOW_TOKENS = [f" w{i}" for i in range(1, 21)]
SLOW = f"""\
description: Twenty tokens, one every 200 ms.
reply: {{tokens: {SLOW_TOKENS}}}
timing: {{first_token: 100ms, per_token: 200ms}}
"""


def reply_text(name: str) -> str:
    return BUILTIN.get(name).reply.text


def first_tokens(name: str, count: int) -> str:
    return "".join(BUILTIN.get(name).reply.tokens[:count])


async def open_sandbox(page: Page, server) -> None:
    await page.goto(server.url + "/")
    await expect(page.get_by_role("button", name="Send")).to_be_enabled()  # the scenarios have loaded


async def send(page: Page, scenario: str, *, client: str = "fetch", stall: str | None = None,
               retries: str | None = None) -> None:
    await page.get_by_label("Scenario").select_option(scenario)
    await page.get_by_label("Prompt").fill("Hello from the browser test")
    await page.get_by_label("EventSource" if client == "eventsource" else "fetch stream").check()
    if stall is not None:
        await page.get_by_label("Stall timeout (s)").fill(stall)
    if retries is not None:
        await page.get_by_label("Retries").fill(retries)
    await page.get_by_role("button", name="Send").click()


async def finished(page: Page, expected: str | re.Pattern = FINISHED, timeout: float = 15_000) -> None:
    await expect(page.get_by_role("status")).to_have_text(expected, timeout=timeout)


def reply(page: Page):
    return page.get_by_role("region", name="Reply")


def timeline(page: Page):
    return page.get_by_role("list", name="Timeline")


async def test_the_page_lists_every_scenario_by_name_with_its_description(page, builtin):
    async with aiohttp.ClientSession() as http:
        async with http.get(builtin.url + "/v1/models") as response:
            models = (await response.json())["data"]
    await open_sandbox(page, builtin)
    select = page.get_by_label("Scenario")
    options = select.locator("option")

    assert await options.evaluate_all("(os) => os.map((o) => o.value)") == [m["id"] for m in models]
    assert await options.evaluate_all("(os) => os.map((o) => o.title)") == [m["description"] for m in models]
    await expect(select).to_have_value("hello")
    await expect(select).to_have_accessible_description(BUILTIN.get("hello").description)
    await select.select_option("drop-reset")
    await expect(page.get_by_text(BUILTIN.get("drop-reset").description)).to_be_visible()
    await expect(page.get_by_role("button", name="Stop")).to_be_disabled()


async def test_send_streams_the_reply_with_a_timeline_and_the_raw_bytes(page, start_server, artifacts):
    server = await start_server(speed=2)  # slow enough to watch: about a second
    await page.set_viewport_size({"width": 1280, "height": 900})
    await open_sandbox(page, server)
    await send(page, "markdown")
    await expect(page.get_by_role("status")).to_have_text("streaming…")
    await finished(page, "done")

    assert await reply(page).text_content() == reply_text("markdown")
    for row in ("request", "HTTP 200", "first byte", "first token", "tokens", "finish_reason: stop", "done"):
        await expect(timeline(page)).to_contain_text(row)
    await expect(page.get_by_label("Raw bytes")).to_contain_text("data: [DONE]\\n")
    await page.screenshot(path=artifacts / "sandbox.png", full_page=True)


async def test_stop_cancels_the_stream_and_the_journal_says_the_client_left(page, start_server, write_scenario):
    write_scenario("slow", SLOW)
    server = await start_server([write_scenario.folder])
    await open_sandbox(page, server)
    session = await page.locator("#session").text_content()
    await send(page, "slow")
    await expect(reply(page)).to_contain_text("w3")
    await page.get_by_role("button", name="Stop").click()
    await finished(page, "stopped")
    await expect(timeline(page)).to_contain_text("cancelled by Stop")
    shown = await reply(page).text_content()
    await asyncio.sleep(1.0)  # five more tokens' time: none of them may appear
    assert await reply(page).text_content() == shown
    assert shown.startswith(" w1 w2 w3") and shown != "".join(SLOW_TOKENS)

    entry = await journal_entry(server, session)
    assert entry["outcome"] == "client_disconnected", entry
    assert 3 <= entry["tokens"] < len(SLOW_TOKENS), entry


async def journal_entry(server, session: str) -> dict:
    """The session's one exchange, once the server has recorded it."""
    async with aiohttp.ClientSession() as http:
        for _ in range(50):
            async with http.get(server.url + "/_mockllm/journal", params={"session": session}) as response:
                entries = (await response.json())["entries"]
            if entries:
                assert len(entries) == 1, entries
                return entries[0]
            await asyncio.sleep(0.1)
    raise AssertionError(f"no journal entry for session {session}")


@pytest.mark.parametrize(
    ("scenario", "status", "why"),
    [("rate-limited", "HTTP 429", "retry-after: 1 s"), ("server-error", "HTTP 500", "exponential backoff")],
    ids=["429-with-retry-after", "500-with-backoff"],
)
async def test_an_http_error_is_retried_then_shown(page, builtin, scenario, status, why):
    await open_sandbox(page, builtin)
    await send(page, scenario, retries="2")
    await finished(page, "error")

    rows = timeline(page).locator("li")
    await expect(rows.filter(has_text="POST /v1/chat/completions")).to_have_count(3)
    await expect(rows.filter(has_text=re.compile(r"retry \d of 2"))).to_have_count(2)
    await expect(rows.filter(has_text="retry 1 of 2")).to_contain_text(why)
    await expect(rows.last).to_contain_text(f"{status} ")
    await expect(reply(page)).to_have_text("")


async def test_a_mid_stream_drop_keeps_the_partial_text_and_shows_an_error(page, start_server):
    # At speed 2 the tokens are read before the RST arrives; much faster, the
    # reset can overtake them and Chromium discards what it had not yet read.
    server = await start_server(speed=2)
    await open_sandbox(page, server)
    await send(page, "drop-reset")
    await finished(page, "error")

    assert await reply(page).text_content() == first_tokens("drop-reset", 5)
    await expect(timeline(page)).to_contain_text("connection lost mid-stream")
    await expect(timeline(page)).not_to_contain_text("retry")  # text was shown: a retry would repeat it


async def test_a_missing_done_is_a_warning_and_the_reply_is_complete(page, builtin):
    await open_sandbox(page, builtin)
    await send(page, "no-done")
    await finished(page, "done, with warnings")

    assert await reply(page).text_content() == reply_text("no-done")
    await expect(timeline(page)).to_contain_text("the stream ended without data: [DONE]")
    await expect(timeline(page).locator("li").last).to_contain_text("end of body · finish_reason: stop")


@pytest.mark.parametrize("scenario", ["heartbeat-stall", "stall-forever"])
async def test_a_stall_gives_up_after_the_timeout_and_keeps_the_partial_text(page, builtin, scenario):
    await open_sandbox(page, builtin)  # speed 50: a heartbeat every 100 ms
    await send(page, scenario, stall="1")
    await finished(page, "error")

    assert await reply(page).text_content() == first_tokens(scenario, 3)
    await expect(timeline(page).locator("li").last).to_contain_text("stalled: no content for 1 s")
    heartbeats = timeline(page).locator("li", has_text='": ping" comment')
    if scenario == "heartbeat-stall":  # shown, but they did not keep the stream alive
        await expect(heartbeats.first).to_contain_text("heartbeat")
    else:
        await expect(heartbeats).to_have_count(0)


async def test_fragmented_chinese_is_decoded_in_stream_mode(page, builtin):
    await open_sandbox(page, builtin)
    await send(page, "fragmented-chinese")
    await finished(page, "done")

    assert await reply(page).text_content() == reply_text("fragmented-chinese")
    await expect(page.get_by_label("Raw bytes")).to_contain_text("你好")


async def test_a_page_that_is_not_an_event_stream_is_an_error(page, builtin):
    await open_sandbox(page, builtin)
    await send(page, "html-200")
    await finished(page, "error")

    await expect(timeline(page).locator("li").last).to_contain_text(
        "expected text/event-stream, got text/html: 502 Bad Gateway"
    )
    await expect(reply(page)).to_have_text("")


async def test_eventsource_reconnects_after_a_drop_and_shows_the_reply_once(page, builtin):
    await open_sandbox(page, builtin)
    await send(page, "drop-then-ok", client="eventsource")
    await finished(page, "done")

    assert await reply(page).text_content() == reply_text("drop-then-ok")
    rows = timeline(page).locator("li")
    await expect(rows.filter(has_text="sending Last-Event-ID: 5")).to_have_count(1)
    await expect(rows.filter(has_text="the server resumed after event 5")).to_have_count(1)
    await expect(rows.last).to_contain_text("[DONE] · finish_reason: stop")
