"""Every built-in scenario, through the official OpenAI SDK over a real socket.

The scenarios are discovered when this module is imported, so a new file in
``scenarios/`` is covered without touching this test. Each one without faults
is selected by passing its name as ``model`` and must come back exactly as its
YAML says: streamed, streamed with usage, and as one ``chat.completion``.
"""

from __future__ import annotations

import pytest

from mockllm.library import load_library
from mockllm.scenario import Scenario, ToolCall

LIBRARY = load_library()
SCENARIOS = list(LIBRARY.scenarios.values())
# A scenario with faults or an attempt schedule cannot come back exactly; each
# of those has its own test in test_builtin_fault_scenarios.py.
CLEAN = [s for s in SCENARIOS if not s.faults and not s.attempts]
each_builtin = pytest.mark.parametrize("scenario", CLEAN, ids=[s.name for s in CLEAN])

MESSAGES = [{"role": "user", "content": "Tell me something."}]


def expected_calls(scenario: Scenario) -> list[tuple[str, str]]:
    return [(call.name, call.arguments) for call in scenario.reply.tool_calls]


def assert_call_ids(ids: list[str], calls: tuple[ToolCall, ...]) -> None:
    """Ids given in the scenario are sent as written; others are fresh ``call_…`` ids."""
    assert len(ids) == len(calls)
    for call_id, call in zip(ids, calls):
        if call.id is not None:
            assert call_id == call.id
        else:
            assert call_id.startswith("call_") and len(call_id) > len("call_")
    assert len(set(ids)) == len(ids), f"tool-call ids repeat: {ids}"


@each_builtin
async def test_stream_reassembles_to_the_scenario_text_tool_calls_and_finish_reason(client, scenario):
    stream = await client.chat.completions.create(model=scenario.name, messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]

    content = ""
    calls: dict[int, dict[str, str]] = {}  # index -> id, name, arguments
    for chunk in chunks:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for delta in choice.delta.tool_calls or ():
                if delta.index not in calls:
                    assert delta.id and delta.function and delta.function.name, (
                        f"the first delta of tool call {delta.index} lacks its id or name: {delta}"
                    )
                    calls[delta.index] = {"id": delta.id, "name": delta.function.name, "arguments": ""}
                if delta.function and delta.function.arguments:
                    calls[delta.index]["arguments"] += delta.function.arguments

    assert content == scenario.reply.text
    ordered = [calls[i] for i in sorted(calls)]
    assert sorted(calls) == list(range(len(calls)))
    assert [(c["name"], c["arguments"]) for c in ordered] == expected_calls(scenario)
    assert_call_ids([c["id"] for c in ordered], scenario.reply.tool_calls)
    with_choices = [chunk for chunk in chunks if chunk.choices]
    assert with_choices[-1].choices[0].finish_reason == scenario.reply.finish_reason
    assert all(chunk.choices[0].finish_reason is None for chunk in with_choices[:-1])


@each_builtin
async def test_stream_with_include_usage_ends_with_one_usage_chunk(client, scenario):
    stream = await client.chat.completions.create(
        model=scenario.name, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    usage_chunks = [i for i, chunk in enumerate(chunks) if chunk.choices == []]
    assert usage_chunks == [len(chunks) - 1], "the usage chunk must be the one and last chunk without choices"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens > 0
    assert usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])


@each_builtin
async def test_non_streaming_completion_carries_the_whole_reply(client, scenario):
    reply = scenario.reply
    completion = await client.chat.completions.create(model=scenario.name, messages=MESSAGES, stream=False)

    assert completion.object == "chat.completion"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.finish_reason == reply.finish_reason
    assert choice.message.role == "assistant"
    # The API sends ``content: null`` when the model only calls tools.
    assert choice.message.content == (None if reply.tool_calls and not reply.tokens else reply.text)
    tool_calls = choice.message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in tool_calls] == expected_calls(scenario)
    assert all(c.type == "function" for c in tool_calls)
    assert_call_ids([c.id for c in tool_calls], reply.tool_calls)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


async def test_a_prompt_mentioning_poem_selects_the_poem_scenario_for_any_model(client):
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "write me a poem please"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == LIBRARY.get("poem").reply.text
    assert text != LIBRARY.get(LIBRARY.default).reply.text


def test_builtin_library_has_at_least_eight_described_scenarios():
    assert len(SCENARIOS) >= 8, f"only {[s.name for s in SCENARIOS]}"
    undescribed = [s.name for s in SCENARIOS if not s.description.strip()]
    assert undescribed == []
