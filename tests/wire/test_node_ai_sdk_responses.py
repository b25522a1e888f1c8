"""The Vercel AI SDK (``ai`` with ``@ai-sdk/openai``) on the Responses API: the
default ``openai(model)``, through ``streamText`` and ``generateText``.

Every clean built-in scenario must reach the app exactly, with the tools the
scenarios call offered as an app would offer them; then what the SDK makes of
every built-in fault scenario, the provider's in-stream error, a drop, broken
JSON, a rate limit that clears and a stream that never completes
(docs/formats/responses.md has the table).
"""

from __future__ import annotations

import pytest

from .node_clients import LIBRARY, NO_RETRIES, ai_sdk_fault_rows, as_scripted, as_seen, run_node, tokens
from .test_node_ai_sdk_chat import FAULT_TABLE as CHAT_FAULT_TABLE

SCRIPT = "ai-sdk-responses.mjs"
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts and not s.chaos]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})

# Where streamText on the Responses API differs from Chat Completions; every
# other row of test_node_ai_sdk_chat.py's FAULT_TABLE (scenario, the text it
# keeps, finishReason, the last part's kind, what iterating the stream throws,
# the classes of its error parts) holds as it is. The finish comes from
# response.completed or response.incomplete: without either it is
# "interrupted", and after an event that fails to parse it stays "error".
DIFFERENCES = {row[0]: row for row in [
    ("cr-only", "all", "interrupted", "finish", None, ()),  # eventsource-parser never ends the last event
    ("malformed-json", "all but token 4", "error", "finish", None, ("JSONParseError",)),
    ("no-done", "all", "interrupted", "finish", None, ()),
    ("no-finish", "all", "stop", "finish", None, ()),  # response.completed still arrives
    ("truncated-json", "all but token 4", "error", "finish", None, ("JSONParseError",)),
    ("wrong-schema", "all but token 4", "error", "finish", None, ("TypeValidationError",)),
]}
FAULT_TABLE = [DIFFERENCES.get(row[0], row) for row in CHAT_FAULT_TABLE]


@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_every_clean_builtin_reaches_the_app_exactly(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node(SCRIPT, builtin, specs)

    seen = {s.name: as_seen(r) for s, r in zip(CLEAN, results)}
    assert seen == {s.name: as_scripted(s) for s in CLEAN}
    assert all(r["paths"] == ["/v1/responses"] for r in results)
    if stream:
        assert [r["error_parts"] for r in results] == [[]] * len(CLEAN)


async def test_each_fault_scenario_reaches_the_app_as_the_table_says(builtin):
    seen = await ai_sdk_fault_rows(SCRIPT, builtin, [row[0] for row in FAULT_TABLE])
    assert seen == FAULT_TABLE


async def test_the_in_stream_error_after_output_is_an_error_part_and_finish_error(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "error-event", "stream": True, "options": NO_RETRIES}])

    assert result["text"] == "".join(tokens("error-event")[:4])
    assert result["error"] is None  # not thrown: streamText reports it as a part
    assert [part["message"] for part in result["error_parts"]][:1] == [
        "An error occurred while processing your request. You can retry your request, or contact us through our "
        "help center at help.openai.com if the error persists."]
    assert result["finish_reason"] == "error"
    assert result["requests"] == 1


async def test_a_reset_mid_stream_is_thrown_from_the_stream(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "drop-reset", "stream": True}])

    assert result["error"]["class"] == "APICallError"
    assert result["text"] == "".join(tokens("drop-reset")[:5])
    assert (result["finish_reason"], result["requests"]) == (None, 1)


async def test_a_stream_without_response_completed_finishes_interrupted(builtin):
    [result] = await run_node(SCRIPT, builtin, [{"model": "no-done", "stream": True}])

    assert result["text"] == LIBRARY.get("no-done").reply.text
    assert (result["finish_reason"], result["error"], result["error_parts"]) == ("interrupted", None, [])


async def test_no_finish_loses_the_last_tool_call_silently(start_server, write_scenario):
    # The SDK emits a tool call at its response.output_item.done; no_finish
    # leaves the last item open, and response.completed listing it whole does
    # not bring it back: the app sees no call and a plain "stop".
    write_scenario("unfinished-call", """
        name: unfinished-call
        reply: {tool_calls: [{name: get_time, arguments: '{"timezone": "UTC"}'}]}
        timing: {first_token: 0s, per_token: 5ms}
        faults: [no_finish]
    """)
    server = await start_server([write_scenario.folder])
    [result] = await run_node(SCRIPT, server, [{"model": "unfinished-call", "stream": True, "tools": ["get_time"]}])

    assert (result["tool_calls"], result["finish_reason"], result["error_parts"]) == ([], "stop", [])
    assert "tool-input-delta" in result["parts"] and "tool-call" not in result["parts"]


async def test_malformed_json_is_an_error_part_and_the_finish_stays_error(builtin):
    # As on Chat Completions the stream goes on without that token, but here
    # the parse failure pins finishReason to "error": response.completed,
    # which arrives whole, does not overwrite it.
    [result] = await run_node(SCRIPT, builtin, [{"model": "malformed-json", "stream": True}])

    [part] = result["error_parts"]
    assert (part["class"], part["cause"]["class"]) == ("JSONParseError", "SyntaxError")
    words = tokens("malformed-json")
    assert result["text"] == "".join(words[:3] + words[4:])
    assert (result["finish_reason"], result["error"], result["requests"]) == ("error", None, 1)


async def test_a_rate_limit_that_clears_is_retried_until_the_reply_streams(builtin):
    # The SDK's default two retries; a 429 is an APICallError it marks retryable.
    [first, retried] = await run_node(SCRIPT, builtin, [
        {"model": "rate-limited-then-ok", "stream": True, "options": NO_RETRIES, "headers": {"x-mockllm-session": "a"}},
        {"model": "rate-limited-then-ok", "stream": True, "headers": {"x-mockllm-session": "b"}},
    ])

    [part] = first["error_parts"]
    assert (part["statusCode"], part["isRetryable"], part["responseHeaders"]["retry-after"]) == (429, True, "1")
    assert (retried["text"], retried["error"], retried["error_parts"]) == (
        LIBRARY.get("rate-limited-then-ok").reply.text, None, [])
    assert (retried["finish_reason"], retried["requests"]) == ("stop", 3)


async def test_a_reset_just_after_the_headers_is_retried(builtin):
    # The provider reads the first chunk inside the SDK's retried call, so a
    # stream that breaks before any output is retried like a failed request
    # (@ai-sdk/google does not: test_node_ai_sdk_google.py).
    [result] = await run_node(SCRIPT, builtin, [{"model": "reset-after-headers-then-ok", "stream": True}])

    assert (result["text"], result["error"], result["error_parts"]) == (
        LIBRARY.get("reset-after-headers-then-ok").reply.text, None, [])
    assert result["requests"] == 2
