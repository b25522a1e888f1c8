"""Conversations over a real socket: the built-in ``weather-agent`` loop
through an app's own tool loop on the openai SDK, turns that count their own
attempts, match rules read from the request, and the error for a turn the
conversation does not have, in each format's own shape."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
QUESTION = [{"role": "user", "content": "Weather in Paris?"}]


def get_weather(city: str, unit: str) -> str:
    return json.dumps({"city": city, "unit": unit, "temperature": 18})


async def run_loop(client: openai.AsyncOpenAI, model: str, *, stream: bool) -> tuple[list[dict], str]:
    """The loop an app writes: ask; while the model calls tools, run them and send the results."""
    messages: list[dict] = list(QUESTION)
    for _ in range(4):
        if stream:
            async with client.chat.completions.stream(model=model, messages=messages, tools=TOOLS) as events:
                message = (await events.get_final_completion()).choices[0].message
        else:
            message = (await client.chat.completions.create(model=model, messages=messages, tools=TOOLS)).choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return messages, message.content
        for call in message.tool_calls:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the loop never ended")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_the_weather_agent_completes_an_apps_tool_loop(client, stream):
    messages, answer = await run_loop(client, "weather-agent", stream=stream)
    assert answer == "It is 18 °C and sunny in Paris."
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert json.loads(messages[2]["content"]) == {"city": "Paris", "unit": "celsius", "temperature": 18}


async def test_each_turn_says_its_number_and_counts_its_own_attempts(start_server, write_scenario):
    path = write_scenario("agent.yaml", """
        name: agent
        turns:
          - reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
          - attempts:
              - faults: [{status: {code: 503}}]
              - faults: []
            reply: {text: Sunny.}
    """)
    server = await start_server(paths=[path], speed=100)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=2) as client:
        first = await client.chat.completions.with_raw_response.create(model="agent", messages=QUESTION, tools=TOOLS)
        assert (first.headers["x-mockllm-turn"], first.headers["x-mockllm-attempt"]) == ("1", "1")
        call = first.parse().choices[0].message.tool_calls[0]
        history = [*QUESTION, first.parse().choices[0].message.model_dump(exclude_none=True),
                   {"role": "tool", "tool_call_id": call.id, "content": "18 C"}]
        second = await client.chat.completions.with_raw_response.create(model="agent", messages=history, tools=TOOLS)
    # Turn 2's first attempt was its 503, which the SDK retried: attempt 2 of turn 2, not attempt 3 of the scenario.
    assert (second.headers["x-mockllm-turn"], second.headers["x-mockllm-attempt"]) == ("2", "2")
    assert second.parse().choices[0].message.content == "Sunny."


async def test_match_rules_pick_the_conversation_whatever_the_model(start_server, write_scenario):
    path = write_scenario("agent.yaml", """
        name: agent
        match: {tool_offered: get_weather, header: {X-Tenant: acme}}
        turns:
          - reply: {text: Matched.}
    """)
    other = write_scenario("other.yaml", "name: other\nreply: {text: Default.}\n")
    server = await start_server(paths=[path, other], default="other", speed=100)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as client:
        async def ask(**options) -> str:
            reply = await client.chat.completions.create(model="gpt-4o", messages=QUESTION, **options)
            return reply.choices[0].message.content
        assert await ask(tools=TOOLS, extra_headers={"X-Tenant": "acme"}) == "Matched."
        assert await ask(tools=TOOLS) == "Default."
        assert await ask(extra_headers={"X-Tenant": "acme"}) == "Default."


async def test_a_turn_past_the_end_is_a_404_in_the_formats_own_shape(builtin):
    done = [*QUESTION, {"role": "assistant", "content": "It is sunny."}, {"role": "user", "content": "And tomorrow?"}]
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="sk", max_retries=0) as client:
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="weather-agent", messages=done + done[1:])
    assert caught.value.code == "turn_not_found"
    assert "Conversation 'weather-agent' has 2 turn(s)" in caught.value.message and "turn 3" in caught.value.message
    async with anthropic.AsyncAnthropic(base_url=builtin.url, api_key="sk", max_retries=0) as client:
        with pytest.raises(anthropic.NotFoundError) as refused:
            await client.messages.create(model="weather-agent", max_tokens=64, messages=done + done[1:])
    assert refused.value.body["error"]["type"] == "not_found_error"
    assert "asks for turn 3" in refused.value.body["error"]["message"]
