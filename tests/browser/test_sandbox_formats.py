"""The sandbox page in every wire format the server lists: pick the format,
stream a scenario with fetch, and read back exactly the scenario's text and
tool calls. The formats are those of ``GET /_mockllm/formats`` (the same
table the server reads), so a format added to ``dialects.DIALECTS`` is
covered here without touching this file.
"""

from __future__ import annotations

import json
import re

import aiohttp
import pytest
from playwright.async_api import Page, expect

from mockllm.dialects import DIALECTS
from mockllm.dialects.base import NDJSON
from mockllm.library import load_library
from mockllm.sandbox import format_list

BUILTIN = load_library()
FORMATS = format_list()
NAMES = [f["name"] for f in FORMATS]
each_format = pytest.mark.parametrize("format_name", NAMES)
# Formats whose API has no tool calls: a reply sends its text only (the
# legacy completions). Any other format must show the scenario's calls.
NO_TOOL_CALLS = {"completions"}
CALL = re.compile(r"^(?P<name>[^(]+)\((?P<arguments>.*)\)$", re.DOTALL)


def calls_of(name: str) -> list[tuple[str, object]]:
    return [(call.name, json.loads(call.arguments)) for call in BUILTIN.get(name).reply.tool_calls]


async def get_formats(server) -> tuple[int, str, list[dict]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/formats") as response:
            return response.status, response.content_type, await response.json()


async def test_formats_lists_every_streaming_format_of_the_table_with_its_example(builtin):
    status, content_type, listed = await get_formats(builtin)

    assert status == 200 and content_type == "application/json"
    assert listed == json.loads(json.dumps(FORMATS))
    assert [f["name"] for f in listed] == [d.name for d in DIALECTS.values() if d.routes and d.streams]
    assert "openai" in NAMES and "content" not in NAMES  # content has no route of its own
    for entry in listed:
        dialect = DIALECTS[entry["name"]]
        example = dialect.example("{model}", "{prompt}", stream=True)
        assert entry == json.loads(json.dumps({
            "name": dialect.name, "title": dialect.title, "framing": "ndjson" if dialect.framing is NDJSON else "sse",
            "path": example.path, "headers": dict(example.call.headers), "body": example.body,
        }))
        assert "{model}" in json.dumps(entry["body"]) + entry["path"]
        assert "{prompt}" in json.dumps(entry["body"])


async def test_openai_is_listed_with_its_example_request(builtin):
    _, _, listed = await get_formats(builtin)
    openai = next(f for f in listed if f["name"] == "openai")
    assert openai == {
        "name": "openai", "title": DIALECTS["openai"].title, "framing": "sse", "path": "/v1/chat/completions",
        "headers": {}, "body": {"model": "{model}", "messages": [{"role": "user", "content": "{prompt}"}],
                                "stream": True},
    }


async def test_formats_refuses_a_page_from_another_origin(builtin):
    async with aiohttp.ClientSession() as http:
        async with http.get(builtin.url + "/_mockllm/formats", headers={"Origin": "http://evil.example"}) as response:
            assert response.status == 403


async def open_sandbox(page: Page, server, format_name: str) -> None:
    await page.goto(server.url + "/")
    await expect(page.get_by_role("button", name="Send")).to_be_enabled()
    select = page.get_by_label("Format")
    await expect(select.locator("option")).to_have_count(len(NAMES))
    await select.select_option(format_name)


async def stream(page: Page, scenario: str) -> None:
    await page.get_by_label("Scenario").select_option(scenario)
    await page.get_by_label("Prompt").fill("Hello from the format test")
    await page.get_by_label("fetch stream").check()
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^(done|done, with warnings|error)$"),
                                                          timeout=15_000)


async def shown_calls(page: Page) -> list[tuple[str, object]]:
    texts = await page.get_by_label("Tool calls").locator(".tool-call").all_text_contents()
    calls = []
    for text in texts:
        match = CALL.match(text)
        assert match, text
        calls.append((match["name"], json.loads(match["arguments"])))
    return calls


async def test_the_format_select_lists_the_server_formats_and_defaults_to_openai(page, builtin):
    await page.goto(builtin.url + "/")
    select = page.get_by_label("Format")
    await expect(select.locator("option")).to_have_count(len(NAMES))
    assert await select.locator("option").evaluate_all("(os) => os.map((o) => o.value)") == NAMES
    await expect(select).to_have_value("openai")
    await expect(select).to_have_accessible_description(re.compile(r"POST /v1/chat/completions · SSE"))


@each_format
@pytest.mark.parametrize("scenario", ["hello", "text-then-tool-call", "tool-call"])
async def test_each_format_streams_the_scenario_exactly(page, builtin, format_name, scenario):
    await open_sandbox(page, builtin, format_name)
    await stream(page, scenario)

    await expect(page.get_by_role("status")).to_have_text("done")  # no warnings: a clean stream
    assert await page.get_by_role("region", name="Reply").text_content() == BUILTIN.get(scenario).reply.text
    assert await shown_calls(page) == ([] if format_name in NO_TOOL_CALLS else calls_of(scenario))
    timeline = page.get_by_role("list", name="Timeline")
    path = next(f["path"] for f in FORMATS if f["name"] == format_name).replace("{model}", scenario)
    await expect(timeline).to_contain_text(f"POST {path}, attempt 1")
    await expect(timeline).to_contain_text("finish_reason:")
    assert await page.get_by_label("Raw bytes").text_content() != ""


@each_format
async def test_each_format_retries_a_429_honouring_retry_after_then_shows_the_reply(page, builtin, format_name):
    await open_sandbox(page, builtin, format_name)
    await stream(page, "rate-limited-then-ok")  # 429 twice, with retry-after: 1

    await expect(page.get_by_role("status")).to_have_text("done")
    assert await page.get_by_role("region", name="Reply").text_content() == BUILTIN.get("rate-limited-then-ok").reply.text
    rows = page.get_by_role("list", name="Timeline").locator("li")
    await expect(rows.filter(has_text=re.compile(r"HTTP 429 .* · server attempt"))).to_have_count(2)
    await expect(rows.filter(has_text=re.compile(r"retry \d of 2 in \d+ ms \(retry-after: 1 s\)"))).to_have_count(2)


SSE_NAMES = [f["name"] for f in FORMATS if f["framing"] == "sse"]


@pytest.mark.parametrize("format_name", SSE_NAMES)
async def test_eventsource_streams_each_sse_format_with_its_format_parameter(page, builtin, format_name):
    await open_sandbox(page, builtin, format_name)
    await page.get_by_label("Scenario").select_option("text-then-tool-call")
    await page.get_by_label("EventSource").check()
    await page.get_by_role("button", name="Send").click()

    await expect(page.get_by_role("status")).to_have_text("done", timeout=15_000)
    assert await page.get_by_role("region", name="Reply").text_content() == BUILTIN.get("text-then-tool-call").reply.text
    expected = [] if format_name in NO_TOOL_CALLS else calls_of("text-then-tool-call")
    assert await shown_calls(page) == expected
    await expect(page.get_by_role("list", name="Timeline")).to_contain_text(f"format={format_name}&")
