"""A web page cannot drive a developer's mockllm, in headless Chromium.

A page served from another port of 127.0.0.1 (another origin, as any site
the developer visits would be) tries every way a browser offers to change a
scenario (a text/plain fetch and form, which need no preflight, a urlencoded
form, a JSON fetch) and to read the journal. None may work, while that page
can still use the API routes and the sandbox page keeps working. A page whose
own name is rebound to 127.0.0.1 (DNS rebinding, simulated with Chromium's
host resolver rules) is same-origin with the server and still gets nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from .conftest import CHROMIUM_ARGS, chromium_path
from .test_sandbox import finished, open_sandbox, reply, reply_text, send

OWNED = "owned by a web page"
HIJACK = f"name: hello\nreply: {{text: '{OWNED}'}}\n"
REBOUND = "rebound.test"

# The attacker's page: helpers the test calls with page.evaluate. Each answers
# what the page could see, or "blocked" when the browser refused to show it.
ATTACKER_PAGE = """<!doctype html>
<title>another origin</title>
<iframe name="sink"></iframe>
<script>
async function attempt(url, init) {
  try {
    const response = await fetch(url, init);
    if (response.type === "opaque") return "opaque";
    return `${response.status} ${await response.text()}`;
  } catch (error) {
    return `blocked: ${error.name}`;
  }
}
function submit(action, enctype, name, value) {
  const form = document.createElement("form");
  Object.assign(form, {method: "post", action, enctype, target: "sink"});
  const field = Object.assign(document.createElement("input"), {type: "hidden", name, value});
  form.append(field);
  document.body.append(form);
  form.submit();
}
</script>
"""


@pytest.fixture
async def other_origin() -> AsyncIterator[str]:
    """A tiny static server on another port of 127.0.0.1: the URL of its page."""
    async def attacker_page(request: web.Request) -> web.Response:
        return web.Response(text=ATTACKER_PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", attacker_page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


async def hello_reply(server) -> str:
    body = {"model": "hello", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/v1/chat/completions", json=body) as response:
            return (await response.json())["choices"][0]["message"]["content"]


async def scenario_names(server) -> list[str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/scenarios") as response:
            return [s["name"] for s in (await response.json())["scenarios"]]


async def test_a_page_on_another_origin_cannot_change_a_scenario(page: Page, builtin, other_origin):
    before = await hello_reply(builtin)
    await page.goto(other_origin)
    target = builtin.url + "/_mockllm/scenarios"

    # No preflight for text/plain: the request reaches the server, which must refuse it.
    seen = await page.evaluate(
        "([url, body]) => attempt(url, {method: 'POST', mode: 'no-cors', body, headers: {'Content-Type': 'text/plain'}})",
        [target, HIJACK],
    )
    assert seen == "opaque"
    # A JSON body needs a preflight, which gets no grant.
    seen = await page.evaluate(
        "([url, body]) => attempt(url, {method: 'POST', body, headers: {'Content-Type': 'application/json'}})",
        [target, json.dumps({"name": "hello", "reply": {"text": OWNED}})],
    )
    assert seen.startswith("blocked: TypeError")
    # Forms post across origins with no preflight at all; the frame shows the server's answer.
    sink = page.frame(name="sink")
    for enctype, name, value in [
        ("text/plain", HIJACK + "#", "x"),  # the body reads "<HIJACK>#=x": the scenario, then a comment
        ("application/x-www-form-urlencoded", "name", "hello"),
    ]:
        await page.evaluate("(args) => submit(...args)", [target, enctype, name, value])
        await expect(sink.locator("body")).to_contain_text("origin_not_allowed")
        await page.goto(other_origin)
        sink = page.frame(name="sink")

    assert await hello_reply(builtin) == before != OWNED
    assert "hello" in await scenario_names(builtin)


async def test_a_page_on_another_origin_cannot_read_the_journal_or_reset_it(page: Page, builtin, other_origin):
    await hello_reply(builtin)  # one exchange in the journal, with its prompt
    await page.goto(other_origin)
    for path in ("/_mockllm/journal", "/_mockllm/scenarios", "/_mockllm/health"):
        seen = await page.evaluate("(url) => attempt(url)", builtin.url + path)
        assert seen.startswith("blocked: TypeError"), (path, seen)
    await page.evaluate("(url) => attempt(url, {method: 'POST', mode: 'no-cors'})", builtin.url + "/_mockllm/reset")
    async with aiohttp.ClientSession() as http:
        async with http.get(builtin.url + "/_mockllm/journal") as response:
            assert len((await response.json())["entries"]) == 1  # not reset


async def test_a_page_on_another_origin_still_uses_the_api(page: Page, builtin, other_origin):
    await page.goto(other_origin)
    body = json.dumps({"model": "hello", "messages": [{"role": "user", "content": "hi"}], "stream": False})
    seen = await page.evaluate(
        "([url, body]) => attempt(url, {method: 'POST', body, headers: {'Content-Type': 'application/json'}})",
        [builtin.url + "/v1/chat/completions", body],
    )
    status, _, text = seen.partition(" ")
    assert status == "200"
    assert json.loads(text)["choices"][0]["message"]["content"] == reply_text("hello")


async def test_an_allowed_origin_may_read_the_journal(page: Page, start_server, other_origin):
    running = await start_server(speed=50, allow_origins=(other_origin,))
    await page.goto(other_origin)
    seen = await page.evaluate("(url) => attempt(url)", running.url + "/_mockllm/journal")
    assert seen == '200 {"entries": []}'


async def test_the_sandbox_still_streams_and_opens_its_journal(page: Page, builtin):
    await open_sandbox(page, builtin)
    await send(page, "hello")
    await finished(page, "done")
    assert await reply(page).text_content() == reply_text("hello")
    await page.get_by_role("link", name="journal").click()
    await expect(page.locator("body")).to_contain_text('"outcome": "completed"')


@pytest.fixture
async def rebinding_browser() -> AsyncIterator[Browser]:
    """Chromium that resolves ``rebound.test`` to 127.0.0.1, as a rebound DNS name would."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_a_page_whose_name_is_rebound_to_loopback_gets_nothing_from_the_control_routes(
    rebinding_browser: Browser, builtin
):
    context = await rebinding_browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"http://{REBOUND}:{builtin.port}/static/style.css")  # any page the server serves
        seen = await page.evaluate(
            """async (body) => {
                 const read = await fetch('/_mockllm/journal');
                 const write = await fetch('/_mockllm/scenarios', {method: 'POST', body});
                 return [read.status, (await read.json()).error.code, write.status];
               }""",
            HIJACK,
        )
        assert seen == [403, "host_not_allowed", 403]
        assert await hello_reply(builtin) == reply_text("hello")
    finally:
        await context.close()
