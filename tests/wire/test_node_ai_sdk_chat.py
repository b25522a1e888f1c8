"""The Vercel AI SDK (``ai`` with ``@ai-sdk/openai``) on Chat Completions:
``openai.chat(model)`` through ``streamText`` and ``generateText``.

Every clean built-in scenario must reach the app exactly, with the tools the
scenarios call offered as an app would offer them; then what the SDK makes of
a dropped, corrupted or never-closed stream, as docs/node-clients.md records.
"""

from __future__ import annotations

import pytest

from .node_clients import LIBRARY, RESET_CODES, ai_sdk_fault_rows, as_scripted, as_seen, run_node, tokens

SCRIPT = "ai-sdk-chat.mjs"
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})
FAULTY = [s.name for s in LIBRARY.scenarios.values() if s.faults or s.attempts]
# The SDK's own names for the wire's finish reasons.

# What streamText gives an app for each fault scenario's first attempt (no
# retries): (scenario, the text it keeps, finishReason, the last part's kind,
# the class of what iterating the stream throws, the classes of its error
# parts). docs/node-clients.md explains each row.
FAULT_TABLE = [
    ("bad-utf8", "U+FFFD", "stop", "finish", None, ()),
    ("bom", "all", "stop", "finish", None, ()),
    ("coalesced", "all", "stop", "finish", None, ()),
    ("cr-only", "all", "stop", "finish", None, ()),
    ("crlf", "all", "stop", "finish", None, ()),
    ("done-then-hang", "all", None, "abort", None, ()),
    ("drop-close", "first 5", None, "text-delta", "APICallError", ()),
    ("drop-reset", "first 5", None, "text-delta", "APICallError", ()),
    ("drop-then-ok", "first 4", None, "text-delta", "APICallError", ()),
    ("duplicate-done", "all", "stop", "finish", None, ()),
    ("error-event", "first 4", "error", "finish", None, ("StreamProviderError",)),
    ("flaky-then-ok", "first 0", None, "error", None, ("APICallError",)),
    ("fragmented-chinese", "all", "stop", "finish", None, ()),
    ("heartbeat-stall", "first 3", None, "abort", None, ()),
    ("html-200", "first 0", "interrupted", "finish", None, ()),
    ("malformed-json", "all but token 4", "stop", "finish", None, ("JSONParseError",)),
    ("no-data-prefix", "all but token 4", "stop", "finish", None, ()),
    ("no-done", "all", "stop", "finish", None, ()),
    ("no-finish", "all", "interrupted", "finish", None, ()),
    ("proxy-error-page", "first 0", None, "error", None, ("APICallError",)),
    ("rate-limited", "first 0", None, "error", None, ("APICallError",)),
    ("rate-limited-then-ok", "first 0", None, "error", None, ("APICallError",)),
    ("reset-after-headers-then-ok", "first 0", None, "error", None, ("APICallError",)),
    ("server-error", "first 0", None, "error", None, ("APICallError",)),
    ("slow-headers", "all", "stop", "finish", None, ()),
    ("slow-pipe", "all", "stop", "finish", None, ()),
    ("stall-forever", "first 3", None, "abort", None, ()),
    ("truncated-json", "all but token 4", "stop", "finish", None, ("JSONParseError",)),
    ("wrong-schema", "all but token 4", "stop", "finish", None, ("TypeValidationError",)),
]



@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_every_clean_builtin_reaches_the_app_exactly(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node(SCRIPT, builtin, specs)

    seen = {s.name: as_seen(r) for s, r in zip(CLEAN, results)}
    assert seen == {s.name: as_scripted(s) for s in CLEAN}
    assert all(r["requests"] == 1 for r in results)
    if stream:
        assert [r["error_parts"] for r in results] == [[]] * len(CLEAN)


async def test_each_fault_scenario_reaches_the_app_as_the_table_says(builtin):
    assert sorted(row[0] for row in FAULT_TABLE) == sorted(FAULTY), "a built-in fault scenario needs its row"
    seen = await ai_sdk_fault_rows(SCRIPT, builtin, [row[0] for row in FAULT_TABLE])
    assert seen == FAULT_TABLE


async def test_a_reset_mid_stream_is_thrown_from_the_stream_as_an_api_call_error(builtin):
    # Not an `error` part: iterating fullStream throws, after the text so far.
    [result] = await run_node(SCRIPT, builtin, [{"model": "drop-reset", "stream": True}])

    error = result["error"]
    assert (error["class"], error["message"]) == ("APICallError", "Failed to process successful response")
    assert (error["statusCode"], error["isRetryable"]) == (200, True)
    assert (error["cause"]["class"], error["cause"]["message"]) == ("TypeError", "terminated")
    assert error["cause"]["cause"]["code"] in RESET_CODES
    assert result["error_parts"] == []
    assert result["text"] == "".join(tokens("drop-reset")[:5])
    assert result["finish_reason"] is None
    assert result["requests"] == 1  # isRetryable, yet a started stream is not retried


async def test_a_reset_before_the_headers_is_retried(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "flaky-then-ok", "stream": True}])

    assert (result["error"], result["error_parts"]) == (None, [])
    assert result["text"] == LIBRARY.get("flaky-then-ok").reply.text
    assert result["requests"] == 2


async def test_malformed_json_is_an_error_part_and_the_stream_goes_on_without_that_token(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "malformed-json", "stream": True}])

    [part] = result["error_parts"]
    assert part["class"] == "JSONParseError"
    assert part["cause"]["class"] == "SyntaxError"
    words = tokens("malformed-json")
    assert result["text"] == "".join(words[:3] + words[4:])
    assert (result["finish_reason"], result["error"]) == ("stop", None)


async def test_after_done_it_still_waits_for_the_connection_to_close(builtin):
    # openai-node stops reading at [DONE] (it needs no deadline: a hang would
    # fail run_node's timeout); streamText waits for the end of the body, so a
    # server that keeps the connection open leaves the reply unfinished until
    # the app's own deadline aborts it.
    spec = {"model": "done-then-hang", "stream": True}
    [ai_sdk] = await run_node(SCRIPT, builtin, [{**spec, "abort_after_ms": 1000}])
    [openai_node] = await run_node("openai-chat.mjs", builtin, [spec], timeout=10)

    text = LIBRARY.get("done-then-hang").reply.text
    assert (ai_sdk["text"], ai_sdk["finish_reason"], ai_sdk["parts"][-1]) == (text, None, "abort")
    assert (openai_node["text"], openai_node["finish_reason"], openai_node["error"]) == (text, "stop", None)
