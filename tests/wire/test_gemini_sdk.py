"""The Gemini dialect through the official ``google-genai`` SDK over a real socket.

Every clean built-in scenario comes back exactly, streamed and not; the
faults meet the SDK as the real API's failures do (shared/wire-format.md §13.6).
The sync client runs in a thread: with aiohttp installed (the server's own
dependency) the async client would take its aiohttp path, which most users,
and the lab that recorded §13.6, do not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from mockllm.library import load_library
from mockllm.scenario import Scenario

from .node_clients import kept

LIBRARY = load_library()
CLEAN = [s for s in LIBRARY.scenarios.values() if not s.faults and not s.attempts]
each_builtin = pytest.mark.parametrize("scenario", CLEAN, ids=[s.name for s in CLEAN])
FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}


def base(running) -> str:
    return running.base_url.removesuffix("/v1")


def make_client(running, version: str = "v1beta", **options: object) -> genai.Client:
    return genai.Client(api_key="g-key", http_options=types.HttpOptions(
        base_url=base(running), api_version=version, **options))


T = TypeVar("T")


def off_loop(fn: Callable[[], T]) -> asyncio.Future[T]:
    return asyncio.ensure_future(asyncio.to_thread(fn))


@pytest.fixture
def gclient(builtin) -> Iterator[genai.Client]:
    client = make_client(builtin)
    yield client
    client.close()


def stream(client: genai.Client, model: str, sink: list | None = None, **kw: object) -> list:
    """The chunks of one streamed call (into ``sink`` as they come, so a test sees them after a raise)."""
    chunks = [] if sink is None else sink
    for chunk in client.models.generate_content_stream(model=model, contents="hi", **kw):
        chunks.append(chunk)
    return chunks


def expected_calls(scenario: Scenario) -> list[tuple[str, dict]]:
    return [(call.name, json.loads(call.arguments or "{}")) for call in scenario.reply.tool_calls]


def calls_of(response: types.GenerateContentResponse) -> list[tuple[str, dict]]:
    return [(call.name, call.args) for call in response.function_calls or ()]


@each_builtin
async def test_stream_reassembles_every_clean_builtin(gclient, scenario):
    chunks = await off_loop(lambda: stream(gclient, scenario.name))
    text = "".join(chunk.text or "" for chunk in chunks)
    calls = [call for chunk in chunks for call in calls_of(chunk)]
    assert text == scenario.reply.text
    assert calls == expected_calls(scenario)
    last = chunks[-1]
    assert last.candidates[0].finish_reason == FINISH[scenario.reply.finish_reason]
    assert all(chunk.candidates[0].finish_reason is None for chunk in chunks[:-1])
    usage = last.usage_metadata
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert len({chunk.response_id for chunk in chunks}) == 1
    ids = [call.id for chunk in chunks for call in chunk.function_calls or ()]
    assert len(set(ids)) == len(ids)


@each_builtin
async def test_generate_content_is_the_same_reply(gclient, scenario):
    response = await off_loop(lambda: gclient.models.generate_content(model=scenario.name, contents="hi"))
    assert (response.text or "") == scenario.reply.text
    assert calls_of(response) == expected_calls(scenario)
    assert response.candidates[0].finish_reason == FINISH[scenario.reply.finish_reason]
    assert response.model_version == scenario.name


async def test_api_version_v1_and_the_models_prefix(builtin):
    client = make_client(builtin, "v1")
    chunks = await off_loop(lambda: stream(client, "models/hello"))
    once = await off_loop(lambda: client.models.generate_content(model="hello", contents="hi"))
    client.close()
    assert "".join(c.text or "" for c in chunks) == once.text == LIBRARY.scenarios["hello"].reply.text


async def test_drop_raises_the_transport_error(gclient):
    chunks: list = []
    with pytest.raises(httpx2.RemoteProtocolError):
        await off_loop(lambda: stream(gclient, "drop-close", chunks))
    text = "".join(c.text or "" for c in chunks)
    assert text and LIBRARY.scenarios["drop-close"].reply.text.startswith(text)


async def test_malformed_chunk_is_an_unknown_api_response(gclient):
    with pytest.raises(errors.UnknownApiResponseError):
        await off_loop(lambda: stream(gclient, "malformed-json"))


async def test_error_event_is_a_server_error_after_the_first_chunks(gclient):
    chunks: list = []
    with pytest.raises(errors.ServerError) as raised:
        await off_loop(lambda: stream(gclient, "error-event", chunks))
    assert raised.value.code == 503 and raised.value.status == "UNAVAILABLE"
    assert "".join(c.text or "" for c in chunks)  # the chunks before the error were yielded


async def test_429_is_a_client_error_with_retry_info_and_no_retry_by_default(gclient):
    with pytest.raises(errors.ClientError) as raised:
        await off_loop(lambda: gclient.models.generate_content(model="rate-limited", contents="hi"))
    assert raised.value.code == 429 and raised.value.status == "RESOURCE_EXHAUSTED"
    assert any(d["@type"].endswith("RetryInfo") for d in raised.value.details["error"]["details"])


async def test_429_then_ok_with_the_sdks_retry_options(builtin):
    retry = types.HttpRetryOptions(attempts=3, initial_delay=0.05, max_delay=0.1)
    client = make_client(builtin, retry_options=retry)
    scenario = LIBRARY.scenarios["rate-limited-then-ok"]
    chunks = await off_loop(lambda: stream(client, scenario.name))
    client.close()
    assert "".join(c.text or "" for c in chunks) == scenario.reply.text
    assert chunks[0].sdk_http_response.headers["x-mockllm-attempt"] == "3"


async def test_stall_meets_the_client_timeout(builtin):
    client = make_client(builtin, timeout=1000)
    chunks: list = []
    with pytest.raises(httpx2.ReadTimeout):
        await off_loop(lambda: stream(client, "stall-forever", chunks))
    client.close()
    text = "".join(c.text or "" for c in chunks)
    assert text and LIBRARY.scenarios["stall-forever"].reply.text.startswith(text)


async def test_heartbeats_while_stalled_are_skipped(start_server, write_scenario):
    path = write_scenario("beat", """
name: beat
reply: {text: "one two three four five six"}
timing: {first_token: 10ms, per_token: 10ms}
faults: [{stall: {after: 2, for: 400ms, heartbeat: 50ms}}]
""")
    running = await start_server([path])
    client = make_client(running)
    chunks = await off_loop(lambda: stream(client, "beat"))
    client.close()
    assert "".join(c.text or "" for c in chunks) == "one two three four five six"


async def test_no_finish_ends_quietly_without_a_finish_reason(gclient):
    chunks = await off_loop(lambda: stream(gclient, "no-finish"))
    assert chunks and all(c.candidates[0].finish_reason is None for c in chunks if c.candidates)


async def test_request_validation_errors_are_invalid_argument(gclient):
    hot = types.GenerateContentConfig(temperature=5)
    with pytest.raises(errors.ClientError) as raised:
        await off_loop(lambda: gclient.models.generate_content(model="hello", contents="hi", config=hot))
    assert raised.value.code == 400 and raised.value.status == "INVALID_ARGUMENT"
    wrong = [types.Content(role="assistant", parts=[types.Part(text="x")])]
    with pytest.raises(errors.ClientError) as raised:
        await off_loop(lambda: gclient.models.generate_content(model="hello", contents=wrong))
    assert raised.value.message == "Please use a valid role: user, model."


# What the first attempt of each built-in fault scenario gives a google-genai
# app (no retries, a 1.5 s timeout): (scenario, the text it keeps, the last
# finish reason, what the stream raised). heartbeat-stall is left out: its
# heartbeats keep the read timeout from ever firing (the heartbeat test above).
FAULT_TABLE = [
    ("bad-utf8", "U+FFFD", "STOP", None),
    ("bom", "first 0", None, "UnknownApiResponseError"),
    ("coalesced", "all", "STOP", None),
    ("cr-only", "all", "STOP", None),
    ("crlf", "all", "STOP", None),
    ("done-then-hang", "all", "STOP", "ReadTimeout"),
    ("drop-close", "first 5", None, "RemoteProtocolError"),
    ("drop-reset", "first 5", None, "ReadError"),
    ("drop-then-ok", "first 4", None, "ReadError"),
    ("duplicate-done", "all", "STOP", None),
    ("error-event", "first 4", None, "ServerError"),
    ("flaky-then-ok", "first 0", None, "ReadError"),
    ("fragmented-chinese", "all", "STOP", None),
    ("html-200", "first 0", None, "UnknownApiResponseError"),
    ("malformed-json", "first 3", None, "UnknownApiResponseError"),
    ("no-data-prefix", "all", "STOP", None),
    ("no-done", "all", "STOP", None),
    ("no-finish", "all", None, None),
    ("proxy-error-page", "first 0", None, "ServerError"),
    ("rate-limited", "first 0", None, "ClientError"),
    ("rate-limited-then-ok", "first 0", None, "ClientError"),
    ("reset-after-headers-then-ok", "first 0", None, "ReadError"),
    ("server-error", "first 0", None, "ServerError"),
    ("slow-headers", "all", "STOP", None),
    ("slow-pipe", "all", "STOP", None),
    ("stall-forever", "first 3", None, "ReadTimeout"),
    ("truncated-json", "first 3", None, "UnknownApiResponseError"),
    ("wrong-schema", "all but token 4", "STOP", None),
]


async def test_each_fault_scenario_meets_google_genai_as_the_table_says(builtin):
    faulty = sorted(s.name for s in LIBRARY.scenarios.values() if s.faults or s.attempts)
    assert sorted([row[0] for row in FAULT_TABLE] + ["heartbeat-stall"]) == faulty, "a fault scenario needs its row"
    client = make_client(builtin, timeout=1500)

    def run(name: str) -> tuple:
        chunks: list = []
        raised = None
        try:
            stream(client, name, chunks)
        except Exception as error:  # noqa: BLE001  (the class is the result)
            raised = type(error).__name__
        finishes = [c.candidates[0].finish_reason for c in chunks if c.candidates and c.candidates[0].finish_reason]
        text = "".join(c.text or "" for c in chunks)
        return (name, kept(LIBRARY.get(name).reply.tokens, text), finishes[-1].value if finishes else None, raised)

    seen = await off_loop(lambda: [run(row[0]) for row in FAULT_TABLE])
    client.close()
    assert seen == FAULT_TABLE
