"""The Anthropic Messages format through the official Python SDK (``anthropic``)
over a real socket: every clean built-in scenario reassembles exactly, streamed
(raw events and the ``messages.stream()`` helper) and not; each fault meets the
SDK as the real API's failure does (wire-format.md §5): ``event: error`` is an
``APIStatusError`` that is not retried, a 429 and a 529 are retried, a cut is
the transport's own error, a missing ``message_stop`` raises nothing.
"""

from __future__ import annotations

import itertools
import json

import aiohttp
import anthropic
import httpx2  # the anthropic SDK's transport since 2.14
import openai
import pytest

from mockllm.dialects.anthropic import DIALECT
from mockllm.library import load_library
from mockllm.scenario import Scenario

from . import anthropic_raises

LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts and not s.chaos]
each_clean = pytest.mark.parametrize("scenario", CLEAN, ids=[s.name for s in CLEAN])
MESSAGES = [{"role": "user", "content": "Tell me something."}]
_sessions = itertools.count()


@pytest.fixture
async def sdk():
    """``sdk(server, **options)``: an async client in a session of its own; closed at the end."""
    made: list[anthropic.AsyncAnthropic] = []

    def make(server, **options) -> anthropic.AsyncAnthropic:
        headers = {"X-Mockllm-Session": f"anthropic-{next(_sessions)}"}
        made.append(anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant-mock", default_headers=headers,
                                             **options))
        return made[-1]

    yield make
    for client in made:
        await client.close()


def expected(scenario: Scenario) -> tuple[str, list[tuple[str, object]]]:
    return scenario.reply.text, [(c.name, json.loads(c.arguments)) for c in scenario.reply.tool_calls]


def seen(message: anthropic.types.Message) -> tuple[str, list[tuple[str, object]]]:
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = [(block.name, block.input) for block in message.content if block.type == "tool_use"]
    return text, calls


@each_clean
async def test_the_stream_helper_reassembles_every_clean_scenario(start_server, sdk, scenario):
    server = await start_server(speed=200)
    async with sdk(server).messages.stream(model=scenario.name, max_tokens=64, messages=MESSAGES) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == scenario.reply.text
    assert seen(final) == expected(scenario)
    assert final.stop_reason == DIALECT.finish(scenario.reply.finish_reason)
    assert final.usage.output_tokens > 0


@each_clean
async def test_stream_false_is_the_same_message(start_server, sdk, scenario):
    server = await start_server(speed=200)
    message = await sdk(server).messages.create(model=scenario.name, max_tokens=64, messages=MESSAGES)
    assert seen(message) == expected(scenario)
    assert message.stop_reason == DIALECT.finish(scenario.reply.finish_reason)


async def test_raw_events_are_every_type_in_order(start_server, sdk):
    server = await start_server(speed=200)
    stream = await sdk(server).messages.create(model="text-then-tool-call", max_tokens=64, messages=MESSAGES,
                                               stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2


async def test_the_in_stream_error_is_an_api_status_error_after_the_text_before_it(start_server, sdk):
    server = await start_server(speed=200)
    client = sdk(server)
    texts = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with client.messages.stream(model="error-event", max_tokens=64, messages=MESSAGES) as stream:
            async for text in stream.text_stream:
                texts.append(text)
    assert "Overloaded" in str(raised.value)
    assert "".join(texts) == "".join(LIBRARY.scenarios["error-event"].reply.tokens[:4])
    assert len(await _journal(server)) == 1  # not retried: the stream had begun


@pytest.mark.parametrize("code", [429, 529])
async def test_a_rate_limit_or_overload_that_clears_is_retried_by_the_sdk(start_server, sdk, write_scenario, code):
    path = write_scenario("busy.yaml", f"""
name: busy
reply: {{text: "At last."}}
attempts:
  - faults: [{{status: {{code: {code}, headers: {{retry-after: "0"}}}}}}]
  - faults: []
""")
    server = await start_server(paths=[path])
    message = await sdk(server, max_retries=2).messages.create(model="busy", max_tokens=64, messages=MESSAGES)
    assert seen(message) == ("At last.", [])
    assert [e["status"] for e in await _journal(server)] == [code, 200]


async def test_without_retries_a_529_is_an_overloaded_error_in_the_apis_shape(start_server, sdk, write_scenario):
    path = write_scenario("busy.yaml", "name: busy\nreply: {text: x}\nfaults: [{status: {code: 529}}]\n")
    server = await start_server(paths=[path])
    with pytest.raises(anthropic.InternalServerError) as raised:
        await sdk(server, max_retries=0).messages.create(model="busy", max_tokens=64, messages=MESSAGES)
    assert raised.value.status_code == 529
    assert raised.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert raised.value.response.headers["request-id"].startswith("req_")


async def test_a_reset_mid_stream_is_a_connection_error_around_the_transports_read_error(start_server, sdk):
    server = await start_server(speed=200)
    with pytest.raises(anthropic_raises.RESET) as raised:
        async with sdk(server).messages.stream(model="drop-reset", max_tokens=64, messages=MESSAGES) as stream:
            async for _ in stream.text_stream:
                pass
    if anthropic_raises.WRAPS_READS:
        assert isinstance(raised.value.__cause__, httpx2.ReadError)


async def test_a_malformed_event_is_a_json_error(start_server, sdk):
    server = await start_server(speed=200)
    with pytest.raises(json.JSONDecodeError):
        async with sdk(server).messages.stream(model="malformed-json", max_tokens=64, messages=MESSAGES) as stream:
            async for _ in stream.text_stream:
                pass


async def test_a_stall_is_the_clients_read_timeout(start_server, sdk):
    server = await start_server(speed=200)
    client = sdk(server, timeout=0.5, max_retries=0)
    with pytest.raises(anthropic_raises.READ_TIMEOUT):
        async with client.messages.stream(model="stall-forever", max_tokens=64, messages=MESSAGES) as stream:
            async for _ in stream.text_stream:
                pass


async def test_no_message_stop_raises_nothing_and_keeps_the_text(start_server, sdk):
    server = await start_server(speed=200)
    async with sdk(server).messages.stream(model="no-done", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text == LIBRARY.scenarios["no-done"].reply.text


async def test_bad_requests_are_refused_in_the_apis_shape(start_server):
    server = await start_server()
    async with aiohttp.ClientSession() as http:
        for body, message in [
            ({"model": "hello", "messages": MESSAGES}, "max_tokens: Field required"),
            ({"model": "hello", "max_tokens": 5, "messages": []}, "messages: at least one message is required"),
            ({"model": "hello", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]},
             "messages.0.role: Input should be 'user' or 'assistant'"),
        ]:
            async with http.post(server.url + "/v1/messages", json=body) as response:
                got = await response.json()
            assert response.status == 400
            assert got["type"] == "error" and got["error"] == {"type": "invalid_request_error", "message": message}
        async with http.post(server.url + "/v1/messages", json={"model": "x", "max_tokens": 5, "messages": MESSAGES},
                             headers={"X-Mockllm-Scenario": "nope"}) as response:
            got = await response.json()
        assert response.status == 404 and got["error"]["type"] == "not_found_error"


async def _journal(server) -> list[dict]:
    async with aiohttp.ClientSession() as http, http.get(server.url + "/_mockllm/journal") as response:
        return (await response.json())["entries"]


async def test_no_finish_leaves_the_final_message_without_a_stop_reason(start_server, sdk):
    server = await start_server(speed=200)
    async with sdk(server).messages.stream(model="no-finish", max_tokens=64, messages=MESSAGES) as stream:
        final = await stream.get_final_message()
    assert seen(final)[0] == LIBRARY.scenarios["no-finish"].reply.text
    assert final.stop_reason is None


async def test_models_list_pages_every_scenario_as_anthropic_does_and_openai_keeps_its_own(builtin, sdk):
    # One path, two shapes: Anthropic's clients send anthropic-version, OpenAI's do not.
    page = await sdk(builtin).models.list()
    names = list(LIBRARY.scenarios)
    assert [(m.id, m.display_name, m.type) for m in page.data] == [(n, n, "model") for n in names]
    assert {m.created_at.isoformat() for m in page.data} == {"2026-01-01T00:00:00+00:00"}
    assert (page.has_more, page.first_id, page.last_id) == (False, names[0], names[-1])
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="sk-test") as client:
        models = [m async for m in client.models.list()]
    assert [(m.id, m.object, m.owned_by) for m in models] == [(n, "model", "mockllm") for n in names]


async def test_an_error_names_the_same_request_id_in_its_header_and_its_body(builtin, sdk):
    ids = []
    for _ in range(2):
        with pytest.raises(anthropic.RateLimitError) as caught:
            await sdk(builtin, max_retries=0).messages.create(model="rate-limited", max_tokens=8, messages=MESSAGES)
        assert caught.value.request_id == caught.value.body["request_id"]
        ids.append(caught.value.request_id)
    assert ids[0] != ids[1]  # each response its own, as the API's are
