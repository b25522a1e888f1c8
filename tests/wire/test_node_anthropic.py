"""Anthropic's own Node SDK (``@anthropic-ai/sdk``) and the Vercel AI SDK's
``@ai-sdk/anthropic`` on ``POST /v1/messages``: every clean built-in scenario
reaches the app exactly, streamed and not; the in-stream error and a 529 that
clears meet each as the real API's would."""

from __future__ import annotations

import json

import pytest

from .node_clients import AI_SDK_FINISH, LIBRARY, run_node

CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
TOOLS = sorted({call.name for s in CLEAN for call in s.reply.tool_calls})
STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _calls(scenario) -> list[tuple[str, object]]:
    return [(c.name, json.loads(c.arguments)) for c in scenario.reply.tool_calls]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_anthropic_sdk_reassembles_every_clean_builtin(builtin, stream):
    results = await run_node("anthropic.mjs", builtin, [{"model": s.name, "stream": stream} for s in CLEAN])
    for scenario, result in zip(CLEAN, results):
        assert result["error"] is None, (scenario.name, result["error"])
        assert result["text"] == scenario.reply.text, scenario.name
        assert [(c["name"], c["arguments"]) for c in result["tool_calls"]] == _calls(scenario), scenario.name
        assert result["finish_reason"] == STOP[scenario.reply.finish_reason]


@pytest.mark.parametrize("stream", [True, False], ids=["streamText", "generateText"])
async def test_ai_sdk_anthropic_reassembles_every_clean_builtin(builtin, stream):
    specs = [{"model": s.name, "stream": stream, "tools": TOOLS} for s in CLEAN]
    results = await run_node("ai-sdk-anthropic.mjs", builtin, specs)
    for scenario, result in zip(CLEAN, results):
        assert result["error"] is None, (scenario.name, result["error"])
        assert result["text"] == scenario.reply.text, scenario.name
        assert [(c["name"], c["arguments"]) for c in result["tool_calls"]] == _calls(scenario), scenario.name
        assert result["finish_reason"] == AI_SDK_FINISH[scenario.reply.finish_reason]


async def test_the_in_stream_error_is_thrown_by_the_sdk_and_an_error_part_in_the_ai_sdk(builtin):
    tokens = LIBRARY.get("error-event").reply.tokens
    [sdk] = await run_node("anthropic.mjs", builtin, [{"model": "error-event", "stream": True}])
    assert sdk["text"] == "".join(tokens[:4])
    assert "Overloaded" in json.dumps(sdk["error"])
    [ai] = await run_node("ai-sdk-anthropic.mjs", builtin, [{"model": "error-event", "stream": True}])
    assert ai["text"] == "".join(tokens[:4])
    assert ai["error_parts"] and "Overloaded" in json.dumps(ai["error_parts"])


async def test_a_529_that_clears_is_retried_by_anthropics_sdk(start_server, write_scenario):
    path = write_scenario("busy.yaml", """
name: busy
reply: {text: "At last."}
attempts:
  - faults: [{status: {code: 529, headers: {retry-after: "0"}}}]
  - faults: []
""")
    server = await start_server(paths=[path])
    [result] = await run_node("anthropic.mjs", server, [{"model": "busy", "stream": True}])
    assert (result["text"], result["requests"], result["error"]) == ("At last.", 2, None)
