"""The Vercel AI SDK (``ai`` with ``@ai-sdk/google``) on the Gemini dialect:
``google(model)`` through ``streamText`` and ``generateText``.

Every clean built-in scenario must reach the app exactly, with the tools the
scenarios call offered as an app would offer them; then what the SDK makes of
every built-in fault scenario and of a rate limit that clears
(docs/formats/gemini.md has the table).
"""

from __future__ import annotations

import pytest

from .node_clients import LIBRARY, NO_RETRIES, ai_sdk_fault_rows, as_scripted, as_seen, run_node
from .test_node_ai_sdk_chat import FAULT_TABLE as CHAT_FAULT_TABLE

SCRIPT = "ai-sdk-google.mjs"
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})

# Where streamText on Gemini differs from Chat Completions; every other row of
# test_node_ai_sdk_chat.py's FAULT_TABLE (scenario, the text it keeps,
# finishReason, the last part's kind, what iterating the stream throws, the
# classes of its error parts) holds as it is.
DIFFERENCES = {row[0]: row for row in [
    # The raw error object of error_event is no SSE field: eventsource-parser
    # drops it and the reply ends "interrupted", with no error at all.
    ("error-event", "first 4", "interrupted", "finish", None, ()),
    # No first chunk is read inside the retried call, so a reset just after
    # the headers is thrown from the stream (and never retried).
    ("reset-after-headers-then-ok", "first 0", None, "start", "APICallError", ()),
    # The schema is loose: a chunk of the wrong shape is no error, only no text.
    ("wrong-schema", "all but token 4", "stop", "finish", None, ()),
]}
FAULT_TABLE = [DIFFERENCES.get(row[0], row) for row in CHAT_FAULT_TABLE]


@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_every_clean_builtin_reaches_the_app_exactly(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node(SCRIPT, builtin, specs)

    seen = {s.name: as_seen(r) for s, r in zip(CLEAN, results)}
    assert seen == {s.name: as_scripted(s) for s in CLEAN}
    assert all(r["requests"] == 1 for r in results)
    if stream:
        assert [r["error_parts"] for r in results] == [[]] * len(CLEAN)


async def test_faults_reach_the_app_as_the_table_says(builtin):
    seen = await ai_sdk_fault_rows(SCRIPT, builtin, [row[0] for row in FAULT_TABLE])
    assert seen == FAULT_TABLE


async def test_a_rate_limit_that_clears_is_retried_until_the_reply_streams(builtin):
    # The SDK's default two retries. Its delay comes from retry-after alone
    # (here 1 s); the RetryInfo retryDelay in Gemini's body is not read.
    [first, retried] = await run_node(SCRIPT, builtin, [
        {"model": "rate-limited-then-ok", "stream": True, "options": NO_RETRIES, "headers": {"x-mockllm-session": "a"}},
        {"model": "rate-limited-then-ok", "stream": True, "headers": {"x-mockllm-session": "b"}},
    ])

    [part] = first["error_parts"]
    assert (part["statusCode"], part["isRetryable"]) == (429, True)
    assert part["data"]["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert (retried["text"], retried["error"], retried["error_parts"]) == (
        LIBRARY.get("rate-limited-then-ok").reply.text, None, [])
    assert (retried["finish_reason"], retried["requests"]) == ("stop", 3)


async def test_a_reset_just_after_the_headers_is_thrown_and_not_retried(builtin):
    # @ai-sdk/openai (test_node_ai_sdk_responses.py) and @ai-sdk/anthropic read
    # the first chunk inside the retried call and so retry this; @ai-sdk/google
    # hands the stream back first, and the reset comes out of it.
    [result] = await run_node(SCRIPT, builtin, [{"model": "reset-after-headers-then-ok", "stream": True}])

    assert (result["error"]["class"], result["error"]["message"]) == (
        "APICallError", "Failed to process successful response")
    assert (result["text"], result["error_parts"], result["requests"]) == ("", [], 1)
