"""Anthropic's own Node SDK (``@anthropic-ai/sdk``, ``messages.stream()``) and
the Vercel AI SDK's ``@ai-sdk/anthropic`` (``streamText``) on ``POST
/v1/messages``: every clean built-in scenario reaches the app exactly,
streamed and not; then what each makes of every built-in fault scenario, a
429 and a 529 that clear, and a stalled body (docs/formats/anthropic.md has
the table)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from .node_clients import AI_SDK_FINISH, LIBRARY, NO_RETRIES, RESET_CODES, fault_spec, kept, run_node, tokens
from .test_node_ai_sdk_chat import FAULT_TABLE as CHAT_FAULT_TABLE

SDK = "anthropic.mjs"
AI_SDK = "ai-sdk-anthropic.mjs"
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})
FAULTY = sorted(s.name for s in LIBRARY.scenarios.values() if s.faults or s.attempts)
STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
STALLS = ["stall-forever", "heartbeat-stall"]

# What `messages.stream()` gives an app for each fault scenario's first attempt
# (no retries): (scenario, the text its `text` events carried, finalMessage()'s
# stop_reason, the class finalMessage() throws). The stream wraps every error
# that is not the SDK's own in an AnthropicError (cause: the original), so a
# drop, a bad JSON line or a missing message_stop are all AnthropicError.
SDK_FAULT_TABLE = [
    ("bad-utf8", "U+FFFD", "end_turn", None),
    ("bom", "all", "end_turn", None),
    ("coalesced", "all", "end_turn", None),
    ("cr-only", "all", "end_turn", None),
    ("crlf", "all", "end_turn", None),
    ("done-then-hang", "all", None, "APIUserAbortError"),  # it reads on past message_stop until the app aborts
    ("drop-close", "first 5", None, "AnthropicError"),
    ("drop-reset", "first 5", None, "AnthropicError"),
    ("drop-then-ok", "first 4", None, "AnthropicError"),
    ("duplicate-done", "all", "end_turn", None),
    ("error-event", "first 4", None, "APIError"),
    ("flaky-then-ok", "first 0", None, "APIConnectionError"),
    ("fragmented-chinese", "all", "end_turn", None),
    ("heartbeat-stall", "first 3", None, "APIUserAbortError"),
    ("html-200", "first 0", None, "AnthropicError"),  # "request ended without sending any chunks"
    ("malformed-json", "first 3", None, "AnthropicError"),
    ("no-data-prefix", "all but token 4", "end_turn", None),
    ("no-done", "all", None, "AnthropicError"),  # no message_stop: no final message
    ("no-finish", "all", None, None),
    ("proxy-error-page", "first 0", None, "InternalServerError"),
    ("rate-limited", "first 0", None, "RateLimitError"),
    ("rate-limited-then-ok", "first 0", None, "RateLimitError"),
    ("reset-after-headers-then-ok", "first 0", None, "AnthropicError"),
    ("server-error", "first 0", None, "InternalServerError"),
    ("slow-headers", "all", "end_turn", None),
    ("slow-pipe", "all", "end_turn", None),
    ("stall-forever", "first 3", None, "APIUserAbortError"),
    ("truncated-json", "first 3", None, "AnthropicError"),
    ("wrong-schema", "all but token 4", "end_turn", None),  # a delta of an unknown shape is skipped
]

# Where streamText on this provider differs from Chat Completions; every other
# row of test_node_ai_sdk_chat.py's FAULT_TABLE (scenario, the text it keeps,
# finishReason, the last part's kind, what iterating the stream throws, the
# classes of its error parts) holds as it is. The finish comes from
# message_stop, so a stream without one is "interrupted".
AI_SDK_DIFFERENCES = {row[0]: row for row in [
    ("cr-only", "all", "interrupted", "finish", None, ()),  # eventsource-parser never ends the last event
    ("html-200", "first 0", None, "error", None, ("NoOutputGeneratedError",)),
    ("no-done", "all", "interrupted", "finish", None, ()),
    ("no-finish", "all", "other", "finish", None, ()),  # stop_reason null maps to "other"
]}
AI_SDK_FAULT_TABLE = [AI_SDK_DIFFERENCES.get(row[0], row) for row in CHAT_FAULT_TABLE]


def _calls(scenario) -> list[tuple[str, object]]:
    return [(c.name, json.loads(c.arguments)) for c in scenario.reply.tool_calls]


def _error_class(result: dict) -> str | None:
    return result["error"] and result["error"]["class"]


async def first_attempts(script: str, server, table: list[tuple]) -> dict[str, dict]:
    """What ``script`` saw of the first attempt of each scenario in ``table``,
    which must name every built-in fault scenario; the app's one-second
    deadline only ends the stalls."""
    names = [row[0] for row in table]
    assert sorted(names) == FAULTY, "a built-in fault scenario needs its row"
    specs = [fault_spec(n) for n in names]
    return dict(zip(names, await run_node(script, server, specs)))


async def journal(server, scenario: str) -> list[dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/journal", params={"scenario": scenario}) as response:
            return (await response.json())["entries"]


def waits(entries: list[dict]) -> list[float]:
    """Seconds from the end of each request to the start of the next."""
    return [after["time"] - (before["time"] + before["duration"]) for before, after in zip(entries, entries[1:])]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_anthropic_sdk_reassembles_every_clean_builtin(builtin, stream):
    results = await run_node(SDK, builtin, [{"model": s.name, "stream": stream} for s in CLEAN])
    for scenario, result in zip(CLEAN, results):
        assert result["error"] is None, (scenario.name, result["error"])
        assert result["text"] == scenario.reply.text, scenario.name
        assert [(c["name"], c["arguments"]) for c in result["tool_calls"]] == _calls(scenario), scenario.name
        assert result["finish_reason"] == STOP[scenario.reply.finish_reason]


@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_ai_sdk_anthropic_reassembles_every_clean_builtin(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node(AI_SDK, builtin, specs)
    for scenario, result in zip(CLEAN, results):
        assert result["error"] is None, (scenario.name, result["error"])
        assert result["text"] == scenario.reply.text, scenario.name
        assert [(c["name"], c["arguments"]) for c in result["tool_calls"]] == _calls(scenario), scenario.name
        assert result["finish_reason"] == AI_SDK_FINISH[scenario.reply.finish_reason]


async def test_each_fault_scenario_meets_anthropics_sdk_as_the_table_says(builtin):
    results = await first_attempts(SDK, builtin, SDK_FAULT_TABLE)

    seen = [(n, kept(tokens(n), r["text"]), r["finish_reason"], _error_class(r)) for n, r in results.items()]
    assert seen == SDK_FAULT_TABLE


async def test_each_fault_scenario_meets_the_ai_sdk_as_the_table_says(builtin):
    results = await first_attempts(AI_SDK, builtin, AI_SDK_FAULT_TABLE)

    seen = [
        (n, kept(tokens(n), r["text"]), r["finish_reason"], r["parts"][-1], _error_class(r),
         tuple(part["class"] for part in r["error_parts"]))
        for n, r in results.items()
    ]
    assert seen == AI_SDK_FAULT_TABLE


# undici's own cause: "other side closed" for a FIN; for an RST, RESET_CODES.
@pytest.mark.parametrize(("scenario", "codes"), [
    ("drop-close", {"UND_ERR_SOCKET"}),
    ("drop-reset", RESET_CODES),
])
async def test_a_drop_mid_stream_is_undicis_terminated_error_wrapped_and_not_retried(builtin, scenario, codes):
    # openai-node lets undici's TypeError through; messages.stream() wraps it.
    [result] = await run_node(SDK, builtin, [{"model": scenario, "stream": True}])

    error = result["error"]
    assert (error["class"], error["message"]) == ("AnthropicError", "terminated")
    assert (error["cause"]["class"], error["cause"]["message"]) == ("TypeError", "terminated")
    assert error["cause"]["cause"]["code"] in codes
    assert result["text"] == "".join(tokens(scenario)[:5])
    assert (result["finish_reason"], result["requests"]) == (None, 1)


async def test_malformed_json_ends_the_sdks_stream_at_the_broken_event(builtin):
    [result] = await run_node(SDK, builtin, [{"model": "malformed-json", "stream": True}])

    error = result["error"]
    assert error["class"] == "AnthropicError"
    assert error["cause"]["class"] == "SyntaxError"
    assert error["message"] == error["cause"]["message"]
    assert result["text"] == "".join(tokens("malformed-json")[:3])
    assert result["requests"] == 1


async def test_the_in_stream_error_is_thrown_by_the_sdk_and_an_error_part_in_the_ai_sdk(builtin):
    # The SDKs' default retries apply: an error after a 200 is never retried.
    [sdk] = await run_node(SDK, builtin, [{"model": "error-event", "stream": True}])
    assert sdk["text"] == "".join(tokens("error-event")[:4])
    error = sdk["error"]
    assert (error["class"], error["type"], error["apiMessage"]) == ("APIError", "overloaded_error", "Overloaded")
    assert "status" not in error  # no HTTP status: it came inside a 200
    assert sdk["requests"] == 1
    [ai] = await run_node(AI_SDK, builtin, [{"model": "error-event", "stream": True}])
    assert ai["text"] == "".join(tokens("error-event")[:4])
    assert ai["error_parts"] and "Overloaded" in json.dumps(ai["error_parts"])
    assert (ai["finish_reason"], ai["requests"]) == ("error", 1)


# What each sends of its retries: @anthropic-ai/sdk an x-stainless-retry-count, the AI SDK nothing.
@pytest.mark.parametrize(("script", "retry_counts"), [(SDK, [0, 1, 2]), (AI_SDK, [None, None, None])])
async def test_a_rate_limit_that_clears_is_retried_after_its_retry_after(builtin, script, retry_counts):
    # Both SDKs' default two retries, each after the scenario's retry-after: 1
    # (longer than @anthropic-ai/sdk's own first backoff, at most 0.5 s).
    [result] = await run_node(script, builtin, [{"model": "rate-limited-then-ok", "stream": True}])

    assert (result["text"], result["error"]) == (LIBRARY.get("rate-limited-then-ok").reply.text, None)
    assert result["requests"] == 3
    entries = await journal(builtin, "rate-limited-then-ok")
    assert [(e["status"], e["client_retry_count"]) for e in entries] == list(zip([429, 429, 200], retry_counts))
    assert all(wait >= 0.9 for wait in waits(entries)), waits(entries)


# Without retries the 529 is the SDK's OverloadedError, the AI SDK's APICallError part.
@pytest.mark.parametrize(("script", "overloaded"), [(SDK, "OverloadedError"), (AI_SDK, "APICallError")])
async def test_a_529_that_clears_is_retried(start_server, write_scenario, script, overloaded):
    path = write_scenario("busy", """
        name: busy
        reply: {text: "At last."}
        attempts:
          - faults: [{status: {code: 529, headers: {retry-after: "0"}}}]
          - faults: []
    """)
    server = await start_server(paths=[path])
    [first, retried] = await run_node(script, server, [
        {"model": "busy", "stream": True, "options": NO_RETRIES, "headers": {"x-mockllm-session": "a"}},
        {"model": "busy", "stream": True, "headers": {"x-mockllm-session": "b"}},
    ])

    error = first["error"] or first["error_parts"][0]  # thrown, or the stream's error part
    assert (error["class"], error.get("status", error.get("statusCode"))) == (overloaded, 529)
    assert (retried["text"], retried["requests"], retried["error"]) == ("At last.", 2, None)


async def test_the_sdks_timeout_stops_at_the_headers_so_only_the_app_ends_a_stall(builtin):
    # `timeout` arms a timer around fetch() alone: a body that goes quiet
    # outlives it, and only the app's own abort ends the wait.
    specs = [{"model": n, "stream": True, "options": {**NO_RETRIES, "timeout": 200}, "abort_after_ms": 1500}
             for n in STALLS]
    results = await run_node(SDK, builtin, specs)

    for name, result in zip(STALLS, results):
        assert result["text"] == "".join(tokens(name)[:3])
        assert (result["error"]["class"], result["error"]["message"]) == ("APIUserAbortError", "Request was aborted.")


async def test_the_ai_sdks_chunk_timeout_ends_a_stall_even_between_heartbeats(builtin):
    # No app deadline: only streamText's own timeout.chunkMs can end these
    # (a hang would fail run_node's timeout). It counts parsed chunks, so
    # heartbeat comments do not reset it; it ends with an abort part, no error.
    specs = [{"model": n, "stream": True, "options": {**NO_RETRIES, "timeout": {"chunkMs": 300}}} for n in STALLS]
    results = await run_node(AI_SDK, builtin, specs, timeout=15)

    for name, result in zip(STALLS, results):
        assert result["text"] == "".join(tokens(name)[:3])
        assert (result["parts"][-1], result["error"], result["error_parts"]) == ("abort", None, [])
