"""examples/playwright: a front end's Playwright (JS) suite that starts mockllm
in its globalSetup and points the page at it, run as its README says, with
this machine's Chromium (scripts/test installs its node_modules)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import chromium_path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "playwright"


def test_the_playwright_example_starts_mockllm_and_passes_against_the_sandbox():
    mockllm = Path(sys.executable).with_name("mockllm")  # the console script beside this interpreter
    env = {**os.environ, "MOCKLLM": str(mockllm), "CHROMIUM_PATH": chromium_path(), "CI": "1"}
    done = subprocess.run(["npx", "playwright", "test"], cwd=EXAMPLE, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout
