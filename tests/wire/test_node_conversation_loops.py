"""The built-in ``weather-agent`` loop through the Node SDKs' own tool loops,
over a real socket: the Vercel AI SDK's ``generateText`` and ``streamText``
with an executing ``get_weather`` tool and ``stopWhen: stepCountIs(5)`` on
each provider, and ``@anthropic-ai/sdk``'s ``toolRunner``. Each must end on
turn 2's text, having run the tool once with turn 1's arguments, and the
server must have answered turn 1 and then turn 2 (``X-Mockllm-Turn``).
One node process runs every spec of a script."""

from __future__ import annotations

import json

from mockllm.library import load_library

from .node_clients import run_node

AGENT = load_library().get("weather-agent")
ANSWER = AGENT.turns[1].reply.text
ARGUMENTS = json.loads(AGENT.turns[0].reply.tool_calls[0].arguments)
PROVIDERS = ["responses", "chat", "anthropic", "google"]
# What the app ends with: the answer, after one run of the tool on turn 1's call.
RAN_THE_AGENT = {"text": ANSWER, "ran": [ARGUMENTS], "error": None}


def outcome(result: dict) -> dict:
    return {key: result[key] for key in RAN_THE_AGENT}


async def test_the_ai_sdks_multi_step_tool_loop_runs_the_agent_on_every_provider(builtin):
    specs = [{"provider": p, "model": "weather-agent", "stream": s} for p in PROVIDERS for s in (False, True)]
    results = await run_node("ai-sdk-loop.mjs", builtin, specs)
    seen = {(spec["provider"], spec["stream"]): result for spec, result in zip(specs, results)}
    assert {key: outcome(r) for key, r in seen.items()} == {key: RAN_THE_AGENT for key in seen}
    assert {key: (r["turns"], r["steps"]) for key, r in seen.items()} == {key: (["1", "2"], 2) for key in seen}


async def test_the_anthropic_sdks_tool_runner_runs_the_agent(builtin):
    results = await run_node("anthropic-loop.mjs", builtin, [{"model": "weather-agent", "stream": s} for s in (False, True)])
    assert [outcome(r) for r in results] == [RAN_THE_AGENT] * 2
    # The runner opens a message thread and continues it with the tool result
    # alone; mockllm keeps no thread, so it answers that with 404 thread_not_found
    # (no turn), and the runner sends the whole conversation again.
    assert [r["turns"] for r in results] == [["1", None, "2"]] * 2
