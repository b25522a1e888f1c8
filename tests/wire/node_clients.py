"""The official Node clients, each driven by a small script in ``tests/node/``.

A test hands :func:`run_node` a running server and a list of specs; one node
process makes the calls in order and answers one JSON object, so a test pays
node's start-up once for many requests::

    results = await run_node("openai-chat.mjs", builtin, [{"model": "hello", "stream": True}])
    results[0] == {"text": "Hello! ...", "tool_calls": [], "finish_reason": "stop",
                   "requests": 1, "error": None, ...}

A spec says ``model`` (the scenario), ``stream``, and optionally ``prompt``,
``headers``, ``options`` (handed to the SDK), ``tools`` and ``abort_after_ms``;
``tests/node/harness.mjs`` documents the result. The packages are the exact
versions in ``tests/node/package-lock.json``, which ``scripts/test`` installs
with ``npm ci``; a missing install fails the test, it never skips it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mockllm import pipeline
from mockllm.dialects import DEFAULT, Ask
from mockllm.library import load_library
from mockllm.script import End

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
TIMEOUT = 60.0  # seconds for a whole batch; a hung client fails instead of hanging the suite


async def run_node(script: str, server, specs: list[dict[str, Any]], *, timeout: float = TIMEOUT) -> list[dict]:
    """Run ``tests/node/<script>`` against ``server`` once for all ``specs``;
    what the client saw for each spec, in order."""
    if not (NODE_DIR / "node_modules").is_dir():
        raise AssertionError(f"{NODE_DIR / 'node_modules'} is missing: scripts/test installs it (npm ci)")
    job = json.dumps({"url": server.url, "specs": specs}).encode()
    process = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / script),
        cwd=NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(job), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"node {script} did not answer within {timeout} s") from None
    if process.returncode != 0:
        raise AssertionError(f"node {script} exited with {process.returncode}:\n{err.decode(errors='replace')}")
    results = json.loads(out)["results"]
    assert len(results) == len(specs), f"node {script} answered {len(results)} of {len(specs)} specs"
    return results


def kept(tokens: tuple[str, ...], text: str) -> str:
    """How much of a reply of ``tokens`` the ``text`` an app got is, as a fault
    table says it: ``all``, ``first N``, ``all but token N``, ``U+FFFD`` (bytes
    replaced) or ``other``."""
    if text == "".join(tokens):
        return "all"
    for n in range(len(tokens)):
        if text == "".join(tokens[:n]):
            return f"first {n}"
    for i in range(len(tokens)):
        if text == "".join(tokens[:i] + tokens[i + 1 :]):
            return f"all but token {i + 1}"
    return "U+FFFD" if "\ufffd" in text else "other"


LIBRARY = load_library()  # the built-in scenarios, as the tests' servers load them


NO_RETRIES = {"maxRetries": 0}
HANG_DEADLINE_MS = 2000  # an app's deadline for a stream that never ends


def _hangs(name: str) -> bool:
    ask = Ask(model=name, stream=True)
    return pipeline.plan(LIBRARY.get(name), ask, DEFAULT).end is End.HANG


def fault_spec(name: str) -> dict[str, Any]:
    """The spec of a fault table's row: a stream with no retries, and a
    deadline only for a scenario that never ends (a stall, a hang), so a slow
    machine never cuts short a reply that would have finished."""
    spec: dict[str, Any] = {"model": name, "stream": True, "options": NO_RETRIES}
    if _hangs(name):
        spec["abort_after_ms"] = HANG_DEADLINE_MS
    return spec


async def ai_sdk_fault_rows(script: str, server, names: list[str]) -> list[tuple]:
    """What the Vercel AI SDK hands the app for each fault scenario, as a
    table row: the scenario, the text it keeps, ``finishReason``, the last
    stream part's kind, what iterating threw, the classes of its error parts."""
    results = await run_node(script, server, [fault_spec(name) for name in names])
    return [
        (name, kept(tokens(name), r["text"]), r["finish_reason"], r["parts"][-1], r["error"] and r["error"]["class"],
         tuple(part["class"] for part in r["error_parts"]))
        for name, r in zip(names, results)
    ]


def tokens(name: str) -> tuple[str, ...]:
    """The text tokens of a built-in scenario."""
    return LIBRARY.get(name).reply.tokens


def as_seen(result: dict) -> dict:
    """What a client script reported, in the shape the tests compare."""
    return {
        "text": result["text"],
        "tool_calls": [(call["name"], call["arguments"]) for call in result["tool_calls"]],
        "finish_reason": result["finish_reason"],
        "error": result["error"],
    }


# What undici says of an RST mid-body: ECONNRESET, though in about one fresh
# node process in ten it reports "other side closed" as for a FIN (a plain
# Python socket always sees the RST: the race is on the client's side).
RESET_CODES = {"ECONNRESET", "UND_ERR_SOCKET"}


# The Vercel AI SDK's names for the scenario's finish reasons, whatever the provider.
AI_SDK_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool-calls", "content_filter": "content-filter"}


def as_scripted(scenario, finish: dict[str, str] = AI_SDK_FINISH) -> dict:
    """What ``as_seen`` must report for a clean ``scenario``: its text, its
    calls with parsed arguments (as the SDKs hand them to the app), its finish
    in the client's words, no error."""
    reply = scenario.reply
    return {
        "text": reply.text,
        "tool_calls": [(call.name, json.loads(call.arguments)) for call in reply.tool_calls],
        "finish_reason": finish[reply.finish_reason],
        "error": None,
    }
