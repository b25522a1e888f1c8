"""The sandbox's Verdicts panel: how the page's own client behaved in its
session, as the server judges it, shown after each send."""

from __future__ import annotations

from playwright.async_api import Page, expect

from .test_sandbox import finished, open_sandbox, send


def verdict(page: Page, name: str):
    return page.get_by_role("list", name="Verdicts").locator(f'li[data-verdict="{name}"]')


async def test_the_panel_shows_the_sessions_verdicts_with_their_evidence(page, builtin):
    await open_sandbox(page, builtin)
    await expect(verdict(page, "honoured_retry_after")).to_contain_text("nothing in this session to judge")

    await send(page, "rate-limited", retries="2")  # two retries, each after the retry-after asked
    await finished(page, "error")
    honoured = verdict(page, "honoured_retry_after")
    await expect(honoured.locator(".verdict-result")).to_have_text("pass")
    await expect(honoured).to_contain_text("asked for 1 s")
    await expect(verdict(page, "bounded_retries")).to_contain_text("retried 2 times (within the limit of 5)")

    await send(page, "stall-forever", stall="1")  # the page gives up after 1 s of silence
    await finished(page, "error")
    aborted = verdict(page, "aborted_stall")
    await expect(aborted.locator(".verdict-result")).to_have_text("pass")
    await expect(aborted).to_contain_text("went silent")
    await expect(page.get_by_role("link", name="/_mockllm/verdicts")).to_have_attribute(
        "href", await page.evaluate("`/_mockllm/verdicts?session=${document.getElementById('session').textContent}`"))
