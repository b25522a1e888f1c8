"""Every built-in fault scenario does what its description promises.

Each scenario is selected by name as ``model`` and watched through the official
``openai.AsyncOpenAI`` client over a real socket: which exception it raises and
after exactly which tokens, which token it silently loses, or that it
reassembles the scenario's text exactly. A raw aiohttp reader stands in where
the point is what a hand-written client would see (the same bytes, read
naively). The ``builtin`` server runs at speed 50, so a 5 s heartbeat is 0.1 s.
Timing is checked with lower bounds and orderings only.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import aiohttp
import openai
import pytest

from mockllm.library import load_library

LIBRARY = load_library()
MESSAGES = [{"role": "user", "content": "Tell me something."}]
CHAT = "/v1/chat/completions"
SLACK = 0.05  # seconds of timer slack allowed under each lower bound


def tokens(name: str) -> tuple[str, ...]:
    return LIBRARY.get(name).reply.tokens


def text(name: str) -> str:
    return LIBRARY.get(name).reply.text


@pytest.fixture
def session() -> str:
    """A fresh ``X-Mockllm-Session`` so no two tests share attempt counters."""
    return f"test-{uuid.uuid4().hex}"


def sdk(server, session: str, **options) -> openai.AsyncOpenAI:
    """The official client for ``server``, in ``session``; no retries unless asked."""
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", default_headers={"X-Mockllm-Session": session}, **options
    )


async def stream_into(client: openai.AsyncOpenAI, name: str, chunks: list, **options) -> str:
    """Stream scenario ``name``, appending each chunk to ``chunks`` as it comes
    (so a test still sees what arrived before an exception); the text."""
    stream = await client.chat.completions.create(model=name, messages=MESSAGES, stream=True, **options)
    async for chunk in stream:
        chunks.append(chunk)
    return content_of(chunks)


def content_of(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


async def raw_post(server, name: str, session: str) -> aiohttp.ClientResponse:
    """What a hand-written client holds: the response, body unread. Close the session."""
    http = aiohttp.ClientSession()
    response = await http.post(
        server.url + CHAT,
        json={"model": name, "messages": MESSAGES, "stream": True},
        headers={"X-Mockllm-Session": session},
    )
    response.http = http  # type: ignore[attr-defined]
    return response


async def close_raw(response: aiohttp.ClientResponse) -> None:
    response.close()
    await response.http.close()  # type: ignore[attr-defined]


# -- HTTP errors instead of a stream -----------------------------------------

HTTP_ERRORS = [
    ("rate-limited", openai.RateLimitError, 429),
    ("server-error", openai.InternalServerError, 500),
    ("proxy-error-page", openai.InternalServerError, 502),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize(("name", "error", "status"), HTTP_ERRORS, ids=[row[0] for row in HTTP_ERRORS])
async def test_an_http_error_scenario_raises_the_sdk_status_error(builtin, session, name, error, status, stream):
    async with sdk(builtin, session) as client:
        with pytest.raises(error) as caught:
            await client.chat.completions.create(model=name, messages=MESSAGES, stream=stream)
    assert caught.value.status_code == status


async def test_rate_limited_tells_the_client_to_retry_after_one_second(builtin, session):
    async with sdk(builtin, session) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="rate-limited", messages=MESSAGES, stream=True)
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.code == "rate_limit_exceeded"


async def test_proxy_error_page_puts_the_html_page_in_the_error_body(builtin, session):
    async with sdk(builtin, session) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="proxy-error-page", messages=MESSAGES, stream=True)
    assert caught.value.response.headers["content-type"].startswith("text/html")
    assert caught.value.message == "Error code: 502"
    assert "<title>502 Bad Gateway</title>" in caught.value.body


async def test_html_200_gives_the_sdk_zero_chunks_and_no_error(builtin, session):
    chunks: list = []
    async with sdk(builtin, session) as client:
        assert await stream_into(client, "html-200", chunks) == ""
    assert chunks == []


# -- a stream that breaks after exactly N tokens ------------------------------

BREAKS = [
    ("drop-reset", openai.APIConnectionError, 5),
    ("drop-close", openai.APIConnectionError, 5),
    ("stall-forever", openai.APITimeoutError, 3),
    ("malformed-json", json.JSONDecodeError, 3),
    ("truncated-json", json.JSONDecodeError, 3),
    ("bad-utf8", UnicodeDecodeError, 3),
    ("error-event", openai.APIError, 4),
]


@pytest.mark.parametrize(("name", "error", "after"), BREAKS, ids=[row[0] for row in BREAKS])
async def test_a_broken_stream_raises_after_exactly_its_first_tokens(builtin, session, name, error, after):
    chunks: list = []
    async with sdk(builtin, session, timeout=0.5) as client:
        with pytest.raises(error) as caught:
            await stream_into(client, name, chunks)
    # Exactly this class: APITimeoutError is also an APIConnectionError, and
    # every openai error is an APIError.
    assert type(caught.value) is error
    assert content_of(chunks) == "".join(tokens(name)[:after])
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)


async def test_error_event_carries_the_providers_message(builtin, session):
    async with sdk(builtin, session) as client:
        with pytest.raises(openai.APIError) as caught:
            await stream_into(client, "error-event", [])
    assert caught.value.message == "The server had an error while processing your request. Sorry about that!"


async def test_stall_forever_waits_at_least_the_read_timeout(builtin, session):
    async with sdk(builtin, session, timeout=0.5) as client:
        started = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            await stream_into(client, "stall-forever", [])
    assert time.perf_counter() - started >= 0.5 - SLACK


async def test_heartbeat_stall_defeats_the_read_timeout_but_not_an_idle_content_timeout(builtin, session):
    chunks: list = []
    async with sdk(builtin, session, timeout=0.5) as client:
        stream = await client.chat.completions.create(model="heartbeat-stall", messages=MESSAGES, stream=True)
        pending = stream.__aiter__()
        # The idle-content timeout: no chunk for 1 s, twice the SDK's
        # read timeout. Had the read timeout fired, APITimeoutError would come first.
        with pytest.raises(TimeoutError):
            while True:
                chunks.append(await asyncio.wait_for(pending.__anext__(), 1.0))
        await stream.close()
    assert content_of(chunks) == "".join(tokens("heartbeat-stall")[:3])


async def test_heartbeat_stall_keeps_sending_ping_comments(builtin, session):
    response = await raw_post(builtin, "heartbeat-stall", session)
    pings = 0
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.8):  # pings every 0.1 s at speed 50
                async for line in response.content:
                    pings += line == b": ping\n"
    finally:
        await close_raw(response)
    assert pings >= 3


# -- silent loss ---------------------------------------------------------------

async def test_no_data_prefix_silently_loses_the_fourth_token(builtin, session):
    async with sdk(builtin, session) as client:
        got = await stream_into(client, "no-data-prefix", [])
    words = tokens("no-data-prefix")
    assert got == "".join(words[:3] + words[4:])


async def test_wrong_schema_yields_a_chunk_without_choices_in_place_of_the_fourth_token(builtin, session):
    chunks: list = []
    async with sdk(builtin, session) as client:
        got = await stream_into(client, "wrong-schema", chunks)
    words = tokens("wrong-schema")
    assert got == "".join(words[:3] + words[4:])
    odd = [c for c in chunks if c.choices is None]
    assert len(odd) == 1
    with pytest.raises(TypeError):
        odd[0].choices[0]  # what naive client code does with every chunk


async def test_bom_makes_the_python_sdk_lose_the_role_chunk(builtin, session):
    chunks: list = []
    async with sdk(builtin, session) as client:
        got = await stream_into(client, "bom", chunks)
    assert got == text("bom")  # the lost event carried no content
    assert all(c.choices[0].delta.role is None for c in chunks)
    assert len(chunks) == len(tokens("bom")) + 1  # the tokens and the finish chunk only
    assert chunks[0].choices[0].delta.content == tokens("bom")[0]


# -- legal but unusual bytes: the SDK reassembles them exactly ---------------------

EXACT = [
    ("fragmented-chinese", "stop"),
    ("coalesced", "stop"),
    ("no-done", "stop"),
    ("duplicate-done", "stop"),
    ("no-finish", None),
    ("crlf", "stop"),
    ("cr-only", "stop"),
    ("unicode-line-separators", "stop"),
    ("slow-headers", "stop"),
    ("slow-pipe", "stop"),
    ("done-then-hang", "stop"),
]


@pytest.mark.parametrize(("name", "finish_reason"), EXACT, ids=[row[0] for row in EXACT])
async def test_the_sdk_reassembles_the_scenario_exactly(builtin, session, name, finish_reason):
    chunks: list = []
    async with sdk(builtin, session, timeout=5) as client:
        got = await stream_into(client, name, chunks)
    assert got == text(name)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == finish_reason


async def test_no_finish_never_sends_a_finish_reason(builtin, session):
    chunks: list = []
    async with sdk(builtin, session) as client:
        await stream_into(client, "no-finish", chunks)
    assert [c.choices[0].finish_reason for c in chunks] == [None] * len(chunks)


async def test_fragmented_chinese_splits_writes_inside_characters(builtin, session):
    # The pieces go 1 ms apart whatever --speed is, so each arrives as a read of
    # its own; every content event holds six three-byte characters, so 7-byte
    # pieces cut inside some of them.
    response = await raw_post(builtin, "fragmented-chinese", session)
    try:
        reads = [piece async for piece in response.content.iter_any()]
    finally:
        await close_raw(response)
    assert '"content":"你好' in b"".join(reads).decode("utf-8")  # the first token came
    undecodable = 0
    for piece in reads:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0, "no read was cut inside a character"


async def test_coalesced_packs_many_events_into_one_read(builtin, session):
    response = await raw_post(builtin, "coalesced", session)
    try:
        reads = [piece async for piece in response.content.iter_any()]
    finally:
        await close_raw(response)
    assert max(piece.count(b"data: ") for piece in reads) >= 10


async def test_unicode_line_separators_break_a_splitlines_reader(builtin, session):
    response = await raw_post(builtin, "unicode-line-separators", session)
    try:
        body = (await response.read()).decode("utf-8")
    finally:
        await close_raw(response)
    assert "\u2028" in body and "\x85" in body  # raw, not \u-escaped
    broken = 0
    for line in body.splitlines():  # the bug: splits on U+2028 and U+0085 too
        if line.startswith("data: {"):
            try:
                json.loads(line[len("data: "):])
            except json.JSONDecodeError:
                broken += 1
    assert broken == 2


async def test_done_then_hang_delivers_done_but_never_ends_the_body(builtin, session):
    response = await raw_post(builtin, "done-then-hang", session)
    seen = b""
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):  # a client waiting for end-of-body
                async for piece in response.content.iter_any():
                    seen += piece
    finally:
        await close_raw(response)
    assert seen.endswith(b"data: [DONE]\n\n")


async def test_slow_headers_times_out_a_client_with_a_shorter_timeout(start_server, session):
    server = await start_server(speed=1)  # the full 5 s delay
    async with sdk(server, session, timeout=0.5) as client:
        started = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="slow-headers", messages=MESSAGES, stream=True)
    assert time.perf_counter() - started >= 0.5 - SLACK


async def test_slow_pipe_is_no_faster_than_its_bandwidth(builtin, session):
    rate = 300 * 50  # bytes per second at speed 50
    response = await raw_post(builtin, "slow-pipe", session)
    try:
        first = await response.content.readany()
        started = time.perf_counter()
        rest = await response.content.read()
        took = time.perf_counter() - started
    finally:
        await close_raw(response)
    assert first and rest
    assert took >= len(rest) / rate - SLACK, (len(rest), took)


# -- attempt schedules --------------------------------------------------------------

async def test_flaky_then_ok_fails_without_retries(builtin, session):
    async with sdk(builtin, session) as client:
        with pytest.raises(openai.APIConnectionError):
            await stream_into(client, "flaky-then-ok", [])


async def test_flaky_then_ok_succeeds_with_the_sdks_own_retry(builtin, session):
    async with sdk(builtin, session, max_retries=openai.DEFAULT_MAX_RETRIES) as client:
        assert await stream_into(client, "flaky-then-ok", []) == text("flaky-then-ok")


async def test_rate_limited_then_ok_succeeds_after_two_retry_after_waits(builtin, session):
    async with sdk(builtin, session, max_retries=openai.DEFAULT_MAX_RETRIES) as client:
        started = time.perf_counter()
        got = await stream_into(client, "rate-limited-then-ok", [])
    assert got == text("rate-limited-then-ok")
    assert time.perf_counter() - started >= 2 - SLACK  # retry-after: 1, twice


async def test_drop_then_ok_fails_mid_stream_despite_retries_then_succeeds_when_asked_again(builtin, session):
    chunks: list = []
    async with sdk(builtin, session, max_retries=openai.DEFAULT_MAX_RETRIES) as client:
        with pytest.raises(openai.APIConnectionError):
            await stream_into(client, "drop-then-ok", chunks)
        assert content_of(chunks) == "".join(tokens("drop-then-ok")[:4])
        assert await stream_into(client, "drop-then-ok", []) == text("drop-then-ok")


async def test_reset_after_headers_then_ok_fails_despite_retries_then_succeeds_when_asked_again(builtin, session):
    async with sdk(builtin, session, max_retries=openai.DEFAULT_MAX_RETRIES) as client:
        with pytest.raises(openai.APIConnectionError):  # the response had begun: not retried
            await stream_into(client, "reset-after-headers-then-ok", [])
        assert await stream_into(client, "reset-after-headers-then-ok", []) == text("reset-after-headers-then-ok")


# -- the library itself ---------------------------------------------------------------

TESTED_HERE = {row[0] for table in (HTTP_ERRORS, BREAKS, EXACT) for row in table} | {
    "html-200",
    "heartbeat-stall",
    "no-data-prefix",
    "wrong-schema",
    "bom",
    "flaky-then-ok",
    "rate-limited-then-ok",
    "drop-then-ok",
    "reset-after-headers-then-ok",
}
FAULT_BUILTINS = sorted(
    name for name, s in LIBRARY.scenarios.items() if s.faults or s.attempts or name in TESTED_HERE
)


def test_every_fault_builtin_has_a_test_here():
    untested = [name for name in FAULT_BUILTINS if name not in TESTED_HERE]
    assert untested == []


@pytest.mark.parametrize("name", FAULT_BUILTINS)
def test_fault_builtin_description_is_at_least_two_sentences(name):
    description = LIBRARY.get(name).description
    sentences = re.findall(r"[.!?][\"')]?(?=\s|$)", description)
    assert len(sentences) >= 2, description
