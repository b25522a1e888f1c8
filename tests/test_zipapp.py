"""The single-file zipapp (scripts/zipapp, built with shiv): mockllm and its
dependencies in one file that serves with nothing but an interpreter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The interpreter the virtual environment was made from: none of the venv's packages.
BARE = getattr(sys, "_base_executable", sys.executable)


def test_the_zipapp_serves_the_builtins_with_nothing_but_an_interpreter(tmp_path):
    pyz = tmp_path / "mockllm.pyz"
    built = subprocess.run(
        [sys.executable, "-m", "shiv", "--quiet", "--console-script", "mockllm", "--output-file", str(pyz),
         "--reproducible", str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    env = {"PATH": os.environ.get("PATH", ""), "SHIV_ROOT": str(tmp_path / "unpacked"), "PYTHONUNBUFFERED": "1"}
    version = subprocess.run([BARE, "-I", str(pyz), "--version"], capture_output=True, text=True, env=env,
                             timeout=120)
    assert re.fullmatch(r"mockllm \d+\.\d+\.\d+\n", version.stdout), version.stderr
    with subprocess.Popen([BARE, "-I", str(pyz), "serve", "--port", "0", "--speed", "50"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        try:
            found = re.fullmatch(r"mockllm listening on (http://127\.0\.0\.1:\d+)\n", server.stdout.readline())
            assert found, server.stderr.read() if server.poll() is not None else "no listening line"
            body = json.dumps({"model": "hello", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
            request = urllib.request.Request(found[1] + "/v1/chat/completions", body.encode(),
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                stream = response.read().decode()
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert "Hello!" in stream and stream.endswith("data: [DONE]\n\n")
    # What served it came out of the zipapp, not from an installed package.
    assert list((tmp_path / "unpacked").glob("*/site-packages/aiohttp/__init__.py"))
