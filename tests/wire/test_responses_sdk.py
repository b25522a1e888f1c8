"""The Responses API (``POST /v1/responses``) through the official openai-python
SDK over a real socket: every clean built-in scenario, three ways (the raw
``responses.create(stream=True)`` events, the strict ``responses.stream()``
helper and ``stream: false``), then each fault as the SDK really meets it.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from mockllm.library import load_library
from mockllm.scenario import Scenario

LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts and not s.chaos]
each_clean = pytest.mark.parametrize("scenario", CLEAN, ids=[s.name for s in CLEAN])
STATUS = {"stop": "completed", "tool_calls": "completed", "length": "incomplete", "content_filter": "incomplete"}


@pytest.fixture
async def sdk(builtin):
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="sk-test", max_retries=0) as client:
        yield client


def calls_of(scenario: Scenario) -> list[tuple[str, str]]:
    return [(call.name, call.arguments) for call in scenario.reply.tool_calls]


def assert_call_ids(ids: list[str], scenario: Scenario) -> None:
    for call_id, call in zip(ids, scenario.reply.tool_calls, strict=True):
        assert call_id == call.id if call.id is not None else call_id.startswith("call_")


def final_calls(response) -> list[tuple[str, str]]:
    return [(item.name, item.arguments) for item in response.output if item.type == "function_call"]


@each_clean
async def test_raw_events_reassemble_every_clean_scenario(sdk, scenario):
    stream = await sdk.responses.create(model=scenario.name, input="Tell me something.", stream=True)
    seen = [event async for event in stream]

    assert [e.sequence_number for e in seen] == list(range(len(seen)))
    assert [e.type for e in seen[:2]] == ["response.created", "response.in_progress"]
    lifecycle = [e for e in seen if e.type.startswith("response.") and hasattr(e, "response")]
    assert len({e.response.id for e in lifecycle}) == 1 and lifecycle[0].response.id.startswith("resp_")
    text = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
    assert text == scenario.reply.text
    items = {e.output_index: e.item for e in seen if e.type == "response.output_item.added"}
    arguments: dict[int, str] = {}
    for e in seen:
        if e.type == "response.function_call_arguments.delta":
            arguments[e.output_index] = arguments.get(e.output_index, "") + e.delta
    calls = [items[i] for i in sorted(items) if items[i].type == "function_call"]
    assert [(c.name, arguments.get(i, "")) for i, c in sorted(items.items()) if c.type == "function_call"] == (
        calls_of(scenario))
    assert all(c.id.startswith("fc_") for c in calls)
    assert_call_ids([c.call_id for c in calls], scenario)
    last = seen[-1]
    assert last.type == f"response.{STATUS[scenario.reply.finish_reason]}"
    assert last.response.usage.output_tokens > 0
    if scenario.reply.finish_reason == "length":
        assert last.response.incomplete_details.reason == "max_output_tokens"


@each_clean
async def test_the_stream_helper_gets_the_final_response_of_every_clean_scenario(sdk, scenario):
    async with sdk.responses.stream(model=scenario.name, input="Tell me something.") as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        if scenario.reply.finish_reason == "length":
            # The helper only finishes on response.completed; a cut reply ends in response.incomplete.
            with pytest.raises(RuntimeError, match="response.completed"):
                await stream.get_final_response()
            return
        final = await stream.get_final_response()

    assert "".join(deltas) == scenario.reply.text
    assert final.output_text == scenario.reply.text
    assert final_calls(final) == calls_of(scenario)
    assert_call_ids([item.call_id for item in final.output if item.type == "function_call"], scenario)
    assert final.status == "completed"
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens


@each_clean
async def test_a_response_without_stream_is_the_whole_response_object(sdk, scenario):
    response = await sdk.responses.create(model=scenario.name, input="Tell me something.")

    assert response.object == "response" and response.id.startswith("resp_")
    assert response.output_text == scenario.reply.text
    assert final_calls(response) == calls_of(scenario)
    assert_call_ids([item.call_id for item in response.output if item.type == "function_call"], scenario)
    assert response.status == STATUS[scenario.reply.finish_reason]


async def test_the_stream_and_the_whole_response_say_the_same(sdk):
    async with sdk.responses.stream(model="text-then-tool-call", input="hi") as stream:
        streamed = await stream.get_final_response()
    whole = await sdk.responses.create(model="text-then-tool-call", input="hi")

    def content(response) -> list[tuple]:
        return [(item.type, getattr(item, "content", None) and item.content[0].text,
                 getattr(item, "name", None), getattr(item, "arguments", None)) for item in response.output]

    assert content(streamed) == content(whole)
    assert (streamed.status, streamed.usage) == (whole.status, whole.usage)


async def test_request_fields_are_echoed_in_the_response(sdk):
    tools = [{"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}]
    response = await sdk.responses.create(model="hello", input="hi", instructions="Be brief.",
                                          temperature=0.5, max_output_tokens=64, tools=tools)
    assert (response.instructions, response.temperature, response.max_output_tokens) == ("Be brief.", 0.5, 64)
    assert [tool.name for tool in response.tools] == ["get_time"]


# -- faults --------------------------------------------------------------------

FAST = "timing: {first_token: 0s, per_token: 5ms}"


@pytest.fixture
async def scenario_client(start_server, write_scenario):
    """``await scenario_client(name, yaml, **options)``: an SDK client for a server
    with one seven-word scenario carrying ``yaml``; closed when the test ends."""
    opened: list[openai.AsyncOpenAI] = []

    async def make(name: str, yaml: str, **options) -> openai.AsyncOpenAI:
        write_scenario(name, f"name: {name}\nreply: {{text: 'one two three four five six seven'}}\n{FAST}\n{yaml}")
        server = await start_server([write_scenario.folder])
        options.setdefault("max_retries", 0)
        opened.append(openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", **options))
        return opened[-1]

    yield make
    for client in opened:
        await client.close()


async def _deltas(client: openai.AsyncOpenAI, model: str, deltas: list[str]) -> None:
    async with client.responses.stream(model=model, input="hi") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        await stream.get_final_response()


@pytest.mark.parametrize("mode", ["reset", "close"])
async def test_a_dropped_stream_raises_api_connection_error_and_is_not_retried(scenario_client, mode):
    client = await scenario_client("dropped", f"faults: [{{drop: {{after: 3, mode: {mode}}}}}]",
                           max_retries=2)
    deltas: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        await _deltas(client, "dropped", deltas)
    assert deltas == ["one", " two", " three"]


async def test_a_malformed_event_raises_the_raw_json_error(scenario_client):
    client = await scenario_client("broken", "faults: [{malformed: {after: 2}}]")
    deltas: list[str] = []
    with pytest.raises(ValueError) as raised:  # json.JSONDecodeError: not an openai exception
        await _deltas(client, "broken", deltas)
    assert not isinstance(raised.value, openai.OpenAIError)
    assert deltas == ["one", " two"]


async def test_the_in_stream_error_raises_api_error_with_its_message(scenario_client):
    client = await scenario_client("failing", "faults: [{error_event: {after: 4}}]")
    deltas: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        await _deltas(client, "failing", deltas)
    assert not isinstance(raised.value, openai.APIStatusError)  # after a 200: no status of its own
    assert "An error occurred while processing your request" in raised.value.message
    assert deltas == ["one", " two", " three", " four"]


async def test_the_raw_stream_raises_at_the_error_event_after_the_tokens_before_it(scenario_client):
    client = await scenario_client("failing", "faults: [{error_event: {after: 1, code: boom}}]")
    stream = await client.responses.create(model="failing", input="hi", stream=True)
    seen = []
    with pytest.raises(openai.APIError) as raised:
        async for event in stream:
            seen.append(event.type)
    assert seen[-1] == "response.output_text.delta" and seen.count("response.output_text.delta") == 1
    assert raised.value.code == "boom"


async def test_429_then_ok_is_retried_by_the_sdk_after_retry_after(scenario_client):
    attempts = ('attempts:\n  - faults: [{status: {code: 429, headers: {retry-after: "0.2"}}}]\n'
                "  - faults: []")
    client = await scenario_client("limited", attempts, max_retries=2)
    deltas: list[str] = []
    await _deltas(client, "limited", deltas)
    assert "".join(deltas) == "one two three four five six seven"


async def test_429_without_retries_is_a_rate_limit_error_in_openais_shape(scenario_client):
    client = await scenario_client("limited", "faults: [{status: {code: 429}}]")
    with pytest.raises(openai.RateLimitError) as raised:
        await client.responses.create(model="limited", input="hi", stream=True)
    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.response.headers["x-request-id"].startswith("req_")


async def test_a_stall_meets_the_clients_read_timeout(scenario_client):
    client = await scenario_client("stalled", "faults: [{stall: {after: 2}}]",
                           timeout=openai.Timeout(5.0, read=0.5))
    deltas: list[str] = []
    with pytest.raises(openai.APITimeoutError):
        await asyncio.wait_for(_deltas(client, "stalled", deltas), 20)
    assert deltas == ["one", " two"]


async def test_no_done_ends_without_response_completed(scenario_client):
    client = await scenario_client("unended", "faults: [no_done]")
    deltas: list[str] = []
    with pytest.raises(RuntimeError, match="response.completed"):
        await _deltas(client, "unended", deltas)
    assert "".join(deltas) == "one two three four five six seven"


async def test_no_finish_leaves_the_last_item_open_but_completed_lists_it(scenario_client):
    client = await scenario_client("unfinished", "faults: [no_finish]")
    stream = await client.responses.create(model="unfinished", input="hi", stream=True)
    seen = [event async for event in stream]
    assert "response.output_item.done" not in [e.type for e in seen]
    assert seen[-1].type == "response.completed" and seen[-1].response.output_text == (
        "one two three four five six seven")
