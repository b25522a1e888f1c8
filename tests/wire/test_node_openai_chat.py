"""openai-node (the official ``openai`` npm package) on Chat Completions.

Every clean built-in scenario must reassemble exactly, streamed and not; a
rate limit that clears is retried as the SDK promises; a dropped or corrupted
stream fails the way docs/node-clients.md says. One node process serves each
test (``run_node``), so a whole library costs one start-up.
"""

from __future__ import annotations

import aiohttp
import pytest

from mockllm.scenario import Scenario

from .node_clients import LIBRARY, NO_RETRIES, RESET_CODES, as_seen, fault_spec, kept, run_node, tokens

SCRIPT = "openai-chat.mjs"
# Scenarios with faults or attempts cannot come back exactly; the faults that
# matter most to a Node app have their own tests below.
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
FAULTY = [s.name for s in LIBRARY.scenarios.values() if s.faults or s.attempts]

# What an app gets from each fault scenario's first attempt (no retries):
# (scenario, the text it keeps, finish_reason, the class of what it throws).
# docs/node-clients.md explains each row.
FAULT_TABLE = [
    ("bad-utf8", "U+FFFD", "stop", None),
    ("bom", "all", "stop", None),
    ("coalesced", "all", "stop", None),
    ("cr-only", "all", "stop", None),
    ("crlf", "all", "stop", None),
    ("done-then-hang", "all", "stop", None),
    ("drop-close", "first 5", None, "TypeError"),
    ("drop-reset", "first 5", None, "TypeError"),
    ("drop-then-ok", "first 4", None, "TypeError"),
    ("duplicate-done", "all", "stop", None),
    ("error-event", "first 4", None, "APIError"),
    ("flaky-then-ok", "first 0", None, "APIConnectionError"),
    ("fragmented-chinese", "all", "stop", None),
    ("heartbeat-stall", "first 3", None, None),  # until the app aborts, then a silent end
    ("html-200", "first 0", None, None),
    ("malformed-json", "first 3", None, "SyntaxError"),
    ("no-data-prefix", "all but token 4", "stop", None),
    ("no-done", "all", "stop", None),
    ("no-finish", "all", None, None),
    ("proxy-error-page", "first 0", None, "InternalServerError"),
    ("rate-limited", "first 0", None, "RateLimitError"),
    ("rate-limited-then-ok", "first 0", None, "RateLimitError"),
    ("reset-after-headers-then-ok", "first 0", None, "TypeError"),
    ("server-error", "first 0", None, "InternalServerError"),
    ("slow-headers", "all", "stop", None),
    ("slow-pipe", "all", "stop", None),
    ("stall-forever", "first 3", None, None),  # until the app aborts, then a silent end
    ("truncated-json", "first 3", None, "SyntaxError"),
    ("wrong-schema", "first 3", None, "TypeError"),  # the app's loop: chunk.choices is not iterable
]


def as_scripted(scenario: Scenario) -> dict:
    reply = scenario.reply
    return {
        "text": reply.text,
        "tool_calls": [(call.name, call.arguments) for call in reply.tool_calls],
        "finish_reason": reply.finish_reason,
        "error": None,
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


async def test_each_fault_scenario_reaches_the_app_as_the_table_says(builtin):
    assert sorted(row[0] for row in FAULT_TABLE) == sorted(FAULTY), "a built-in fault scenario needs its row"
    # The deadline only ends the stalls: every other reply is over in well under a second.
    specs = [fault_spec(row[0]) for row in FAULT_TABLE]
    results = await run_node(SCRIPT, builtin, specs)

    seen = [
        (row[0], kept(tokens(row[0]), r["text"]), r["finish_reason"], r["error"] and r["error"]["class"])
        for row, r in zip(FAULT_TABLE, results)
    ]
    assert seen == FAULT_TABLE


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
    assert error["cause"]["code"] in RESET_CODES
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
