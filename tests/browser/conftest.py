"""Headless Chromium through Playwright, for the tests that need a real browser.

Chromium comes from Debian's ``chromium`` package (Playwright cannot download
its own browser here); ``scripts/test`` installs it. A missing browser fails
these tests with the fix in the message: they never skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Without these, Chromium keeps trying to reach Google's services, which this
# machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("MOCKLLM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed: run scripts/test, or apt-get install chromium, "
                    "or set MOCKLLM_CHROMIUM to its binary", pytrace=False)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def artifacts() -> Path:
    """Where tests leave files for people to look at (screenshots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
