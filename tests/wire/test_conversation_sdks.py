"""The built-in ``weather-agent`` loop through each Python SDK's own tool loop,
over a real socket: openai's Responses tool runner, anthropic's
``tool_runner`` with a ``@beta_tool``, google-genai's automatic function
calling (``models`` and ``chats``), and the loop the ollama docs show. Each
must end on turn 2's text, having run the tool once with turn 1's arguments,
and the server must have answered turn 1 and then turn 2 (``X-Mockllm-Turn``,
seen by an httpx hook on the SDK's own client). docs/conversations.md says
what each one sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import anthropic
import ollama
import openai
import pytest
from anthropic import beta_tool
from google import genai
from google.genai import types
from openai.lib.responses_tool_runner import AsyncRegisteredFunction, AsyncResponsesToolRunner

from mockllm.library import load_library

AGENT = load_library().get("weather-agent")
ANSWER = AGENT.turns[1].reply.text
ARGUMENTS = json.loads(AGENT.turns[0].reply.tool_calls[0].arguments)
QUESTION = "Weather in Paris?"
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}


class Loop:
    """What one run of an app's loop left behind: the tool's calls, and the
    turn each response said it answered (None: a response with no turn)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.turns: list[str | None] = []

    def get_weather(self, city: str, unit: str) -> str:
        """Get the current weather in a city."""
        self.calls.append({"city": city, "unit": unit})
        return json.dumps({"temperature": 18, "sky": "sunny"})

    def tool(self) -> Callable[[str, str], str]:
        """``get_weather`` as a plain function of that name, for SDKs that read a function's signature."""

        def get_weather(city: str, unit: str) -> str:
            """Get the current weather in a city.

            Args:
                city: The city.
                unit: celsius or fahrenheit.
            """
            return self.get_weather(city, unit)

        return get_weather

    def hooks(self) -> dict[str, list[Callable]]:
        """httpx event hooks recording each response's ``X-Mockllm-Turn``."""
        return {"response": [lambda response: self.turns.append(response.headers.get("x-mockllm-turn"))]}

    def hooks_async(self) -> dict[str, list[Callable]]:
        async def record(response) -> None:
            self.turns.append(response.headers.get("x-mockllm-turn"))

        return {"response": [record]}

    def assert_ran_the_agent(self, answer: str, turns: tuple[str | None, ...] = ("1", "2")) -> None:
        assert answer == ANSWER
        assert self.calls == [ARGUMENTS]
        assert self.turns == list(turns)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_openais_responses_tool_runner_runs_the_agent(builtin, stream):
    loop = Loop()

    async def execute(arguments: dict) -> str:
        return loop.get_weather(**arguments)

    tool = {"type": "function", "name": "get_weather", "parameters": PARAMETERS, "strict": None}
    runner = AsyncResponsesToolRunner(functions=[AsyncRegisteredFunction(tool, execute)])
    http = openai.DefaultAsyncHttpxClient(event_hooks=loop.hooks_async())
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="sk", max_retries=0, http_client=http) as client:
        response = await runner.run(client, {"model": "weather-agent", "input": QUESTION}, stream=stream)
    loop.assert_ran_the_agent(response.output_text)


def off_loop(fn: Callable[[], str]) -> asyncio.Future[str]:
    """A sync SDK call in a thread, so the server on this loop can answer it."""
    return asyncio.ensure_future(asyncio.wait_for(asyncio.to_thread(fn), 30))


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_anthropics_tool_runner_runs_the_agent(builtin, stream):
    loop = Loop()

    def run() -> str:
        http = anthropic.DefaultHttpxClient(event_hooks=loop.hooks())
        with anthropic.Anthropic(base_url=builtin.url, api_key="sk", max_retries=0, http_client=http) as client:
            runner = client.beta.messages.tool_runner(
                model="weather-agent", max_tokens=256, messages=[{"role": "user", "content": QUESTION}],
                tools=[beta_tool(loop.tool())], stream=stream, max_iterations=4,
            )
            message = runner.until_done()
        return "".join(block.text for block in message.content if block.type == "text")

    answer = await off_loop(run)
    # The runner opens a message thread and continues it with the tool result
    # alone; mockllm keeps no thread, so it answers that with 404 thread_not_found
    # (no turn), and the runner sends the whole conversation again.
    loop.assert_ran_the_agent(answer, turns=("1", None, "2"))


def genai_answer(client: genai.Client, config: types.GenerateContentConfig, *, chat: bool, stream: bool) -> str:
    """The app's answer through ``client.models`` or a ``client.chats`` chat (the path the SDK recommends for AFC)."""
    if chat:
        session = client.chats.create(model="weather-agent", config=config)
        if stream:
            return "".join(chunk.text or "" for chunk in session.send_message_stream(QUESTION))
        return session.send_message(QUESTION).text or ""
    if stream:
        chunks = client.models.generate_content_stream(model="weather-agent", contents=QUESTION, config=config)
        return "".join(chunk.text or "" for chunk in chunks)
    return client.models.generate_content(model="weather-agent", contents=QUESTION, config=config).text or ""


@pytest.mark.parametrize("chat", [False, True], ids=["models", "chats"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_genais_automatic_function_calling_runs_the_agent(builtin, stream, chat):
    loop = Loop()

    def run() -> str:
        options = types.HttpOptions(base_url=builtin.url, api_version="v1beta", client_args={"event_hooks": loop.hooks()})
        with genai.Client(api_key="g-key", http_options=options) as client:
            config = types.GenerateContentConfig(tools=[loop.tool()])
            return genai_answer(client, config, chat=chat, stream=stream)

    answer = await off_loop(run)
    loop.assert_ran_the_agent(answer)


async def test_the_loop_the_ollama_docs_show_runs_the_agent(builtin):
    loop = Loop()
    get_weather = loop.tool()

    def run(client: ollama.Client) -> str:
        messages: list = [{"role": "user", "content": QUESTION}]
        for _ in range(4):
            response = client.chat(model="weather-agent", messages=messages, tools=[get_weather])
            messages.append(response.message)
            if not response.message.tool_calls:
                return response.message.content or ""
            for call in response.message.tool_calls:
                result = get_weather(**call.function.arguments)
                messages.append({"role": "tool", "content": result, "tool_name": call.function.name})
        raise AssertionError("the loop never ended")

    client = ollama.Client(host=builtin.url, event_hooks=loop.hooks())  # it has no __enter__
    try:
        answer = await off_loop(lambda: run(client))
    finally:
        client.close()
    loop.assert_ran_the_agent(answer)


async def test_anthropics_tool_runner_stops_threading_when_the_replayed_thread_is_lost_too(start_server, write_scenario):
    path = write_scenario("trip.yaml", """
        name: trip
        turns:
          - reply: {tool_calls: [{name: get_weather, arguments: {city: Paris, unit: celsius}}]}
          - reply: {tool_calls: [{name: get_weather, arguments: {city: Rome, unit: celsius}}]}
          - reply: {text: Both sunny.}
    """)
    server = await start_server(paths=[path], speed=100)
    loop = Loop()

    def run() -> str:
        http = anthropic.DefaultHttpxClient(event_hooks=loop.hooks())
        with anthropic.Anthropic(base_url=server.url, api_key="sk", max_retries=0, http_client=http) as client:
            runner = client.beta.messages.tool_runner(
                model="trip", max_tokens=256, messages=[{"role": "user", "content": "Paris, then Rome?"}],
                tools=[beta_tool(loop.tool())], max_iterations=6,
            )
            return "".join(block.text for block in runner.until_done().content if block.type == "text")

    assert await off_loop(run) == "Both sunny."
    assert [call["city"] for call in loop.calls] == ["Paris", "Rome"]
    # Turn 2's continuation is lost, its replay opens a new thread; that one's
    # continuation is lost too, and the runner goes on without a thread.
    assert loop.turns == ["1", None, "2", None, "3"]
