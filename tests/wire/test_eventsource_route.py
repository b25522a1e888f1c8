"""``GET /v1/stream/{scenario}`` on real sockets, read as raw bytes: the route
a browser's ``EventSource`` uses.

What a browser relies on: ``retry:`` first, ``id:`` on every event, a
reconnect with ``Last-Event-ID`` resuming right after that event (a new
attempt, so "drop, then clean" finishes), and 204 once everything has been
delivered. Timings are lower bounds only.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field

import aiohttp
import pytest
from multidict import CIMultiDict

from mockllm.dialects import DIALECTS

SLACK = 0.02  # seconds of timer slack allowed under a lower bound
TOKENS = ["One", " two", " three"]
REPLY = f"reply: {{tokens: {json.dumps(TOKENS)}}}\n"
CLEAN_CONTENT = (
    b"retry: 1000\n\n"
    b'id: 1\ndata: {"content":"One"}\n\n'
    b'id: 2\ndata: {"content":" two"}\n\n'
    b'id: 3\ndata: {"content":" three"}\n\n'
    b"id: 4\ndata: [DONE]\n\n"
)
# The content format has no finish or usage frame: the ids run over the
# content frames and [DONE] only.


# -- clients ------------------------------------------------------------------


@dataclass
class Got:
    """One response as a raw client saw it: each read with its arrival time,
    measured from just before the request was sent."""

    status: int
    headers: CIMultiDict[str]
    reads: list[tuple[float, bytes]] = field(default_factory=list)
    error: Exception | None = None  # the connection broke mid-body

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.reads)

    @property
    def messages(self) -> list[Message]:
        return messages_of(self.body)

    def arrival(self, event_id: int) -> float:
        """When the read that completed event ``event_id`` arrived."""
        seen = b""
        for at, data in self.reads:
            seen += data
            if any(m.id == str(event_id) for m in messages_of(seen)):
                return at
        raise AssertionError(f"event {event_id} never arrived in {self.body!r}")


async def get(server, target: str, **headers: str) -> Got:
    """``GET target`` as an EventSource would, keeping every read as it came."""
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **headers}
    async with aiohttp.ClientSession() as session:
        sent = time.monotonic()
        async with session.get(server.url + target, headers=headers) as response:
            got = Got(response.status, CIMultiDict(response.headers))
            try:
                async for data in response.content.iter_any():
                    got.reads.append((time.monotonic() - sent, data))
            except aiohttp.ClientError as exc:
                got.error = exc
            return got


async def socket_get(server, target: str, *header_lines: str) -> bytes:
    """Everything the server sends for one ``GET`` on a bare socket, head included."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = "".join(f"{line}\r\n" for line in header_lines)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{lines}\r\n".encode())
    received = b""
    try:
        while data := await reader.read(65536):
            received += data
    finally:
        writer.close()
    return received


async def journal(server) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/_mockllm/journal") as response:
            return (await response.json())["entries"]


# -- an EventSource parser, as the WHATWG spec (section 9.2) reads a stream ----------


@dataclass(frozen=True)
class Message:
    id: str  # the last event ID when it was dispatched
    data: str
    type: str = "message"

    def json(self):
        return json.loads(self.data)


def messages_of(body: bytes) -> list[Message]:
    """The messages a browser dispatches for ``body``: an incomplete final
    event is discarded, comments and ``retry`` dispatch nothing."""
    text = body.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece has no line end yet
    out: list[Message] = []
    last_id, data, kind = "", [], ""
    for line in lines:
        if line == "":
            if data:
                out.append(Message(last_id, "\n".join(data), kind or "message"))
            data, kind = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "event":
            kind = value
    return out


def ids(messages: list[Message]) -> list[str]:
    return [m.id for m in messages]


def text_of(messages: list[Message]) -> str:
    """The reply's text in either format: content frames or chat chunks."""
    pieces = []
    for message in messages:
        if message.data == "[DONE]":
            continue
        payload = message.json()
        if "content" in payload:
            pieces.append(payload["content"])
        elif payload.get("choices"):
            pieces.append(payload["choices"][0]["delta"].get("content") or "")
    return "".join(pieces)


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(name=yaml, ..., **settings)``: a server on exactly those scenarios."""

    async def start(settings: dict | None = None, **scenarios: str):
        for name, text in scenarios.items():
            write_scenario(name, text)
        return await start_server([write_scenario.folder], **(settings or {}))

    return start


# -- a fresh stream ----------------------------------------------------------------


async def test_content_format_is_retry_then_numbered_events_exactly(serve):
    server = await serve(plain=REPLY)
    got = await get(server, "/v1/stream/plain?format=content")
    assert got.status == 200
    assert got.body == CLEAN_CONTENT
    assert b"finish_reason" not in got.body and b"usage" not in got.body
    assert [m.json() for m in got.messages[:-1]] == [{"content": t} for t in TOKENS]
    assert got.error is None


async def test_the_response_is_an_uncached_event_stream_any_origin_may_read(serve):
    server = await serve(plain=REPLY)
    for target in ("/v1/stream/plain", "/v1/stream/plain?format=content"):
        got = await get(server, target)
        assert got.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert got.headers.getall("Cache-Control") == ["no-cache"]  # once, not once per layer
        assert got.headers["Access-Control-Allow-Origin"] == "*"
        assert got.headers["X-Mockllm-Scenario"] == "plain"


@pytest.mark.parametrize("target", ["/v1/stream/plain", "/v1/stream/plain?format=openai"], ids=["default", "explicit"])
async def test_openai_format_is_numbered_chat_chunks(serve, target):
    server = await serve(plain=REPLY)
    got = await get(server, target)
    assert got.body.startswith(b"retry: 1000\n\nid: 1\ndata: {")
    messages = got.messages
    assert ids(messages) == ["1", "2", "3", "4", "5", "6"]
    chunks = [m.json() for m in messages[:-1]]
    assert messages[-1].data == "[DONE]"
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"plain"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:4]] == TOKENS
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"
    # Every frame is exactly "id: N\ndata: ...\n\n": one id line, one data line.
    frames = got.body.split(b"\n\n")[1:-1]
    assert [f.split(b"\n")[0] for f in frames] == [b"id: %d" % n for n in range(1, 7)]
    assert all(len(f.split(b"\n")) == 2 for f in frames)


@pytest.mark.parametrize(
    ("timing", "settings", "line"),
    [
        ("", {}, b"retry: 1000\n\n"),
        ("timing: {retry: 100ms}\n", {}, b"retry: 100\n\n"),
        ("timing: {retry: 2.5s}\n", {}, b"retry: 2500\n\n"),
        ("timing: {retry: 500ms}\n", {"speed": 10}, b"retry: 50\n\n"),
        ("", {"speed": 4}, b"retry: 250\n\n"),
    ],
    ids=["default", "100ms", "2.5s", "speed-10", "default-speed-4"],
)
async def test_retry_is_the_scenarios_timing_retry_divided_by_speed(serve, timing, settings, line):
    server = await serve(settings, plain=REPLY + timing)
    got = await get(server, "/v1/stream/plain?format=content")
    assert got.body.startswith(line + b"id: 1\n")
    assert got.body.count(b"retry:") == 1


async def test_events_keep_the_scenarios_timing(serve):
    server = await serve(slow=REPLY + "timing: {first_token: 200ms, per_token: 100ms}\n")
    got = await get(server, "/v1/stream/slow?format=content")
    assert got.reads[0][1].startswith(b"retry: ")
    assert got.arrival(1) >= 0.2 - SLACK
    assert got.arrival(2) >= 0.3 - SLACK
    assert got.arrival(3) >= 0.4 - SLACK
    assert got.arrival(3) - got.arrival(1) >= 0.2 - SLACK


# -- resume --------------------------------------------------------------------


@pytest.mark.parametrize("last", [1, 2, 3], ids=["after-1", "after-2", "after-3"])
async def test_last_event_id_resumes_right_after_that_event(serve, last):
    server = await serve(plain=REPLY)
    got = await get(server, "/v1/stream/plain?format=content", **{"Last-Event-ID": str(last)})
    frames = CLEAN_CONTENT.split(b"\n\n")[:-1]
    assert got.status == 200
    assert got.body == b"".join(frame + b"\n\n" for frame in [frames[0], *frames[last + 1 :]])
    assert ids(got.messages) == [str(n) for n in range(last + 1, 5)]
    assert got.messages[-1].data == "[DONE]"


async def test_a_resumed_stream_keeps_the_gaps_after_the_last_event(serve):
    # Events at 0.3, 0.4, 0.5, 0.6 and [DONE] at the finish, 0.7: resuming
    # after event 2 (0.4 into the reply) sends event 3 0.1 after the request,
    # event 4 0.2 after it, and [DONE] 0.3 after it.
    server = await serve(
        slow='reply: {tokens: ["a", "b", "c", "d"]}\ntiming: {first_token: 300ms, per_token: 100ms}\n'
    )
    got = await get(server, "/v1/stream/slow?format=content", **{"Last-Event-ID": "2"})
    assert ids(got.messages) == ["3", "4", "5"]
    assert got.messages[-1].data == "[DONE]"
    assert got.arrival(3) >= 0.1 - SLACK
    assert got.arrival(4) >= 0.2 - SLACK
    assert got.arrival(5) >= 0.3 - SLACK
    assert got.arrival(4) - got.arrival(3) >= 0.1 - SLACK
    assert got.arrival(5) - got.arrival(4) >= 0.1 - SLACK


@pytest.mark.parametrize("last", ["4", "5", "999", "9" * 5000], ids=["last", "one-past", "far-past", "huge"])
async def test_last_event_id_at_or_past_the_end_is_204_with_no_body(serve, last):
    server = await serve(plain=REPLY)
    received = await socket_get(server, "/v1/stream/plain?format=content", f"Last-Event-ID: {last}")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert body == b""
    assert b"transfer-encoding" not in head.lower()
    assert b"text/event-stream" not in head


@pytest.mark.parametrize(
    "header", ["abc", "-1", "1.5", "3a", "1-2", ""],
    ids=["word", "negative", "decimal", "trailing-letter", "chromium-pair", "empty"],
)
async def test_a_last_event_id_that_is_not_a_count_is_ignored(serve, header):
    server = await serve(plain=REPLY)
    got = await get(server, "/v1/stream/plain?format=content", **{"Last-Event-ID": header})
    assert (got.status, got.body) == (200, CLEAN_CONTENT)


@pytest.mark.parametrize("digit", ["\u00b2", "\u0663"], ids=["superscript-two", "arabic-indic-three"])
async def test_a_last_event_id_of_non_ascii_digits_is_ignored(serve, digit):
    # Sent as UTF-8 bytes: str.isdigit() says yes to both, int() refuses one.
    server = await serve(plain=REPLY)
    received = await socket_get(server, "/v1/stream/plain?format=content", f"Last-Event-ID: {digit}")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b'id: 1\ndata: {"content":"One"}' in body


async def test_the_last_event_id_query_parameter_works_for_polyfills(serve):
    server = await serve(plain=REPLY)
    got = await get(server, "/v1/stream/plain?format=content&lastEventId=2")
    assert ids(got.messages) == ["3", "4"]
    done = await get(server, "/v1/stream/plain?format=content&lastEventId=4")
    assert (done.status, done.body) == (204, b"")


async def test_the_header_wins_over_the_query_parameter(serve):
    server = await serve(plain=REPLY)
    got = await get(server, "/v1/stream/plain?format=content&lastEventId=1", **{"Last-Event-ID": "2"})
    assert ids(got.messages) == ["3", "4"]


# -- attempts and sessions ----------------------------------------------------------

DROP_THEN_CLEAN = (
    'reply: {tokens: ["a", " b", " c", " d", " e", " f"]}\n'
    "timing: {retry: 100ms}\n"
    "attempts:\n"
    "  - faults: [{drop: {after: 4}}]\n"
    "  - faults: []\n"
)


@pytest.mark.parametrize(
    ("format_", "cut_after"), [("content", 4), ("openai", 5)], ids=["content", "openai"]
)
async def test_drop_then_reconnect_with_last_event_id_finishes_the_reply_exactly_once(serve, format_, cut_after):
    # In the openai format event 1 is the role chunk, so four tokens are five events.
    server = await serve(flaky=DROP_THEN_CLEAN)
    target = f"/v1/stream/flaky?format={format_}"
    first = await get(server, target)
    assert first.error is not None  # the connection was cut mid-body
    assert first.headers["X-Mockllm-Attempt"] == "1"
    assert ids(first.messages) == [str(n) for n in range(1, cut_after + 1)]
    assert text_of(first.messages) == "a b c d"

    second = await get(server, target, **{"Last-Event-ID": first.messages[-1].id})
    assert second.error is None
    assert second.headers["X-Mockllm-Attempt"] == "2"
    assert second.body.startswith(b"retry: 100\n\nid: %d\n" % (cut_after + 1))
    assert text_of(second.messages) == " e f"
    assert text_of(first.messages + second.messages) == "a b c d e f"

    third = await get(server, target, **{"Last-Event-ID": second.messages[-1].id})
    assert (third.status, third.body, third.headers["X-Mockllm-Attempt"]) == (204, b"", "3")


async def test_session_query_counts_attempts_separately(serve):
    server = await serve(flaky=DROP_THEN_CLEAN)
    a1 = await get(server, "/v1/stream/flaky?format=content&session=a")
    b1 = await get(server, "/v1/stream/flaky?format=content&session=b")
    a2 = await get(server, "/v1/stream/flaky?format=content&session=a")
    assert [g.headers["X-Mockllm-Attempt"] for g in (a1, b1, a2)] == ["1", "1", "2"]
    assert (a1.error is not None, b1.error is not None, a2.error) == (True, True, None)
    assert text_of(a2.messages) == "a b c d e f"
    sessions = [(e["session"], e["attempt"], e["outcome"]) for e in await journal(server)]
    assert sessions == [("a", 1, "dropped"), ("b", 1, "dropped"), ("a", 2, "completed")]


async def test_the_journal_shows_each_reconnect_with_its_last_event_id(serve):
    server = await serve(flaky=DROP_THEN_CLEAN)
    first = await get(server, "/v1/stream/flaky?format=content")
    second = await get(server, "/v1/stream/flaky?format=content", **{"Last-Event-ID": first.messages[-1].id})
    await get(server, "/v1/stream/flaky?format=content", **{"Last-Event-ID": second.messages[-1].id})
    entries = await journal(server)
    assert [(e["route"], e["status"], e["attempt"], e["outcome"]) for e in entries] == [
        ("/v1/stream/flaky", 200, 1, "dropped"),
        ("/v1/stream/flaky", 200, 2, "completed"),
        ("/v1/stream/flaky", 204, 3, "completed"),
    ]
    assert [e["request"]["last_event_id"] for e in entries] == [None, "4", "7"]  # e, f and [DONE] are 5-7
    assert {e["request"]["query"]["format"] for e in entries} == {"content"}
    assert [e["tokens"] for e in entries] == [4, 2, 0]


async def test_the_204_after_a_reply_that_ends_in_a_cut_is_a_clean_end(serve):
    # The reply's own last step resets the connection; once every event has
    # been delivered, the reconnect's 204 has nothing left to cut.
    server = await serve(cut='steps: [{text: "a"}, {text: " b"}, done, {close: reset}]\n')
    first = await get(server, "/v1/stream/cut?format=content")
    assert first.error is not None
    assert ids(first.messages) == ["1", "2", "3"]
    received = await socket_get(server, "/v1/stream/cut?format=content", "Last-Event-ID: 3")
    assert received.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert received.endswith(b"\r\n\r\n")
    assert [(e["status"], e["outcome"]) for e in await journal(server)] == [(200, "dropped"), (204, "completed")]


# -- selection and errors -------------------------------------------------------------


async def test_prompt_has_no_effect_when_the_path_names_the_scenario(serve):
    server = await serve(
        plain=REPLY, poem='match: {prompt: "(?i)poem"}\nreply: {text: "Roses are red"}\n'
    )
    got = await get(server, "/v1/stream/plain?format=content&prompt=write+a+poem")
    assert got.headers["X-Mockllm-Scenario"] == "plain"
    assert got.body == CLEAN_CONTENT


async def test_an_unknown_scenario_is_a_404_listing_the_names(serve):
    server = await serve(plain=REPLY, poem='reply: {text: "Roses"}\n')
    got = await get(server, "/v1/stream/nope?format=content")
    assert got.status == 404
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    error = json.loads(got.body)["error"]
    assert error["message"] == "No scenario named 'nope'. Known scenarios: plain, poem."
    assert (error["type"], error["code"]) == ("invalid_request_error", "scenario_not_found")


@pytest.mark.parametrize("format_", ["xml", "OPENAI", ""], ids=["xml", "upper-case", "empty"])
async def test_an_unknown_format_is_a_400(serve, format_):
    server = await serve(plain=REPLY)
    got = await get(server, f"/v1/stream/plain?format={format_}")
    assert got.status == 400
    error = json.loads(got.body)["error"]
    assert error["param"] == "format"
    assert error["type"] == "invalid_request_error"
    assert all(name in error["message"] for name in DIALECTS), "the message lists every format"
    assert [e["status"] for e in await journal(server)] == [400]


# -- faults ------------------------------------------------------------------------


async def test_a_malformed_event_reaches_the_browser_as_data_that_is_not_json(serve):
    server = await serve(broken=REPLY + "faults: [{malformed: {after: 1}}]\n")
    got = await get(server, "/v1/stream/broken?format=content")
    assert got.headers["X-Mockllm-Faults"] == "malformed(after=1)"
    assert got.messages[-1].data == "[DONE]"
    parsed = []
    for message in got.messages[:-1]:
        try:
            parsed.append(message.json())
        except ValueError:
            parsed.append(None)
    assert parsed == [{"content": "One"}, None, {"content": " three"}]
    assert ids(got.messages) == ["1", "2", "3", "4"]  # the broken event keeps its id, the rest as before
    assert b'id: 2\ndata: {"content":" two",}\n\n' in got.body  # only the data line is broken


@pytest.mark.parametrize(
    ("kind", "second"),
    [
        ("invalid_json", b'id: 2\ndata: {"content":" two",}\n\n'),
        ("truncated_json", b'id: 2\ndata: {"content\n\n'),
        ("bad_utf8", b'id: 2\ndata: {"content":"\xff\xfe two"}\n\n'),
        ("no_data_prefix", b'id: 2\n{"content":" two"}\n\n'),
        ("wrong_schema", b'id: 2\ndata: {"foo":"bar"}\n\n'),
    ],
    ids=["invalid_json", "truncated_json", "bad_utf8", "no_data_prefix", "wrong_schema"],
)
async def test_a_malformed_event_keeps_its_id_line_and_breaks_only_the_data(serve, kind, second):
    server = await serve(broken=REPLY + f"faults: [{{malformed: {{after: 1, kind: {kind}}}}}]\n")
    got = await get(server, "/v1/stream/broken?format=content")
    frames = CLEAN_CONTENT.split(b"\n\n")[:-1]
    expected = [frame + b"\n\n" for frame in frames]
    expected[2] = second  # frames[0] is the retry line, frames[2] event 2
    assert got.body == b"".join(expected)
    if kind == "no_data_prefix":
        # No data line: the browser dispatches nothing for event 2, but its id still
        # counts, so a reconnect after event 3 would send Last-Event-ID: 3.
        assert ids(got.messages) == ["1", "3", "4"]
    else:
        assert ids(got.messages) == ["1", "2", "3", "4"]


async def test_a_status_fault_answers_the_eventsource_with_an_error(serve):
    server = await serve(limited=REPLY + "faults: [{status: {code: 429, headers: {retry-after: '2'}}}]\n")
    got = await get(server, "/v1/stream/limited?format=content")
    assert got.status == 429
    assert got.headers["retry-after"] == "2"
    assert set(json.loads(got.body)["error"]) == {"message", "type", "param", "code"}
    assert b"retry:" not in got.body


async def test_fragmented_writes_carry_the_same_bytes(serve):
    server = await serve(bits=REPLY + "faults: [{fragment: {bytes: 7}}]\n")
    got = await get(server, "/v1/stream/bits?format=content")
    assert got.headers["X-Mockllm-Faults"] == "fragment"
    assert got.body == CLEAN_CONTENT


async def test_faults_apply_to_a_resumed_stream_counting_from_the_resume_point(serve):
    # Attempts 1 and 2 both drop after four tokens: the second counts its
    # four from where it resumed, so the reply advances four tokens per
    # connection and the third attempt finishes it.
    tokens = [f" t{n}" for n in range(10)]
    server = await serve(
        cut=f"reply: {{tokens: {json.dumps(tokens)}}}\n"
        "attempts: [{faults: [{drop: {after: 4}}]}, {faults: [{drop: {after: 4}}]}, {faults: []}]\n"
    )
    received: list[Message] = []
    seen = []
    for _ in range(6):
        headers = {"Last-Event-ID": received[-1].id} if received else {}
        got = await get(server, "/v1/stream/cut?format=content", **headers)
        seen.append((got.status, got.error is not None, len(got.messages)))
        if got.status == 204:
            break
        received += got.messages
    assert seen == [(200, True, 4), (200, True, 4), (200, False, 3), (204, False, 0)]  # t8, t9, [DONE]
    assert ids(received) == [str(n) for n in range(1, 12)]
    assert received[-1].data == "[DONE]"
    assert text_of(received) == "".join(tokens)


async def test_a_resume_with_nothing_left_after_the_faults_is_a_204(start_server, write_scenario):
    # no_done removes the final [DONE] that numbering left to resume after the
    # finish event: a 200 with only retry: would make EventSource reconnect forever.
    write_scenario("nodone", 'reply: {tokens: ["a", " b"]}\nfaults: [no_done]\n')
    server = await start_server([write_scenario.folder])
    async with aiohttp.ClientSession() as session:
        url = server.url + "/v1/stream/nodone?format=content"
        async with session.get(url) as first:
            body = await first.read()
        assert b"id: 2\n" in body and b"[DONE]" not in body
        async with session.get(url, headers={"Last-Event-ID": "2"}) as resumed:
            assert resumed.status == 204
            assert await resumed.read() == b""
