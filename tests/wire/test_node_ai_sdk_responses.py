"""The Vercel AI SDK (``ai`` with ``@ai-sdk/openai``) on the Responses API: the
default ``openai(model)``, through ``streamText`` and ``generateText``.

Every clean built-in scenario must reach the app exactly, with the tools the
scenarios call offered as an app would offer them; then what the SDK makes of
the provider's in-stream error, a drop and a stream that never completes.
"""

from __future__ import annotations

import pytest

from .node_clients import LIBRARY, as_scripted, as_seen, run_node, tokens

SCRIPT = "ai-sdk-responses.mjs"
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts and not s.chaos]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})
# The SDK's names for how a reply ended: from response.completed (a function_call
# in the output is tool-calls) or response.incomplete's incomplete_details.reason.
NO_RETRIES = {"maxRetries": 0}



@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_every_clean_builtin_reaches_the_app_exactly(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node(SCRIPT, builtin, specs)

    seen = {s.name: as_seen(r) for s, r in zip(CLEAN, results)}
    assert seen == {s.name: as_scripted(s) for s in CLEAN}
    assert all(r["paths"] == ["/v1/responses"] for r in results)
    if stream:
        assert [r["error_parts"] for r in results] == [[]] * len(CLEAN)


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
