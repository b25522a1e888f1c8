"""openai-node (the official ``openai`` npm package) on Chat Completions.

Every clean built-in scenario must reassemble exactly, streamed and not; a
rate limit that clears is retried as the SDK promises; a dropped or corrupted
stream fails the way docs/node-clients.md says. One node process serves each
test (``run_node``), so a whole library costs one start-up.
"""

from __future__ import annotations

import aiohttp
import pytest

from mockllm.library import load_library
from mockllm.scenario import Scenario

from .node_clients import run_node

SCRIPT = "openai-chat.mjs"
LIBRARY = load_library()
# Scenarios with faults or attempts cannot come back exactly; the faults that
# matter most to a Node app have their own tests below.
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
NO_RETRIES = {"maxRetries": 0}


def tokens(name: str) -> tuple[str, ...]:
    return LIBRARY.get(name).reply.tokens


def as_scripted(scenario: Scenario) -> dict:
    reply = scenario.reply
    return {
        "text": reply.text,
        "tool_calls": [(call.name, call.arguments) for call in reply.tool_calls],
        "finish_reason": reply.finish_reason,
        "error": None,
    }


def as_seen(result: dict) -> dict:
    return {
        "text": result["text"],
        "tool_calls": [(call["name"], call["arguments"]) for call in result["tool_calls"]],
        "finish_reason": result["finish_reason"],
        "error": result["error"],
    }


async def journal(server, scenario: str) -> list[dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/journal", params={"scenario": scenario}) as response:
            return (await response.json())["entries"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
async def test_every_clean_builtin_reassembles_exactly(builtin, stream):
    specs = [{"model": s.name, "stream": stream} for s in CLEAN]
    results = await run_node(SCRIPT, builtin, specs)

    seen = {s.name: as_seen(r) for s, r in zip(CLEAN, results)}
    assert seen == {s.name: as_scripted(s) for s in CLEAN}
    ids = [call["id"] for r in results for call in r["tool_calls"]]
    assert all(isinstance(i, str) and i for i in ids), ids
    assert all(r["requests"] == 1 for r in results)


async def test_a_rate_limit_that_clears_is_retried_until_the_reply_streams(builtin):
    # The SDK's default two retries, each after the scenario's retry-after: 1.
    [result] = await run_node(SCRIPT, builtin, [{"model": "rate-limited-then-ok", "stream": True}])

    assert result["error"] is None
    assert result["text"] == LIBRARY.get("rate-limited-then-ok").reply.text
    assert result["requests"] == 3
    entries = await journal(builtin, "rate-limited-then-ok")
    attempts = [(e["attempt"], e["status"], e["client_retry_count"]) for e in entries]
    assert attempts == [(1, 429, 0), (2, 429, 1), (3, 200, 2)]


async def test_a_reset_mid_stream_throws_undicis_terminated_error_not_an_sdk_error(builtin):
    # The SDK wraps a failed fetch in APIConnectionError, but once the body is
    # being read the runtime's own TypeError comes through unwrapped.
    [result] = await run_node(SCRIPT, builtin, [{"model": "drop-reset", "stream": True}])

    error = result["error"]
    assert (error["class"], error["message"]) == ("TypeError", "terminated")
    assert error["cause"]["code"] == "ECONNRESET"
    assert result["text"] == "".join(tokens("drop-reset")[:5])
    assert result["finish_reason"] is None
    assert result["requests"] == 1  # no SDK retries a stream once it has started


async def test_a_reset_before_the_headers_is_the_sdks_connection_error(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "flaky-then-ok", "stream": True, "options": NO_RETRIES}])

    error = result["error"]
    assert (error["class"], error["message"]) == ("APIConnectionError", "Connection error.")
    assert error["cause"]["message"] == "fetch failed"
    assert result["text"] == ""


async def test_malformed_json_throws_a_syntax_error_after_the_tokens_before_it(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "malformed-json", "stream": True}])

    error = result["error"]
    assert error["class"] == "SyntaxError"
    assert error["message"] == "Error reading response: malformed server-sent event JSON."
    assert result["text"] == "".join(tokens("malformed-json")[:3])
    assert result["requests"] == 1
