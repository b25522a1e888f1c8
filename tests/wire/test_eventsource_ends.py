"""An EventSource stream ends: reconnecting with ``Last-Event-ID`` as a browser
does reaches a 204 after a bounded number of reconnects, whatever the faults.

    - a resume with nothing left to deliver is a 204, never a fault's drop or status;
    - ``after: N`` does not fire again on a resumed stream with fewer than N tokens left;
    - the provider's in-stream error ends the stream: it carries the reply's last id.
"""

from __future__ import annotations

import pytest

from .test_eventsource_route import Message, get, ids, journal, serve, text_of  # noqa: F401  (serve: fixture)

LIMIT = 30  # reconnects allowed before we call it a loop; the longest built-in needs 5


async def reconnect_until_closed(server, target: str) -> list:
    """Connect, then reconnect with the last id seen, until an answer other
    than 200 (EventSource's CLOSED). Each connection as the client saw it."""
    connections = []
    last_id = None
    for _ in range(LIMIT):
        got = await get(server, target, **({"Last-Event-ID": last_id} if last_id else {}))
        connections.append(got)
        if got.status != 200:
            return connections
        if got.messages:
            last_id = got.messages[-1].id
    raise AssertionError(f"still reconnecting after {LIMIT}: {[c.status for c in connections]}")


def delivered(connections) -> list[Message]:
    return [m for c in connections for m in c.messages]


@pytest.mark.parametrize("format_", ["content", "openai"])
@pytest.mark.parametrize("scenario", ["drop-reset", "drop-close"])
async def test_a_builtin_drop_on_every_attempt_still_delivers_everything_then_204(builtin, scenario, format_):
    connections = await reconnect_until_closed(builtin, f"/v1/stream/{scenario}?format={format_}")
    *streams, last = connections
    assert last.status == 204 and last.body == b""
    assert all(c.status == 200 for c in streams)
    assert streams[0].error is not None  # the fault still cuts the fresh stream
    assert streams[-1].error is None  # the tail, fewer tokens than the cut waits for, arrives whole
    messages = delivered(connections)
    assert ids(messages) == [str(n) for n in range(1, len(messages) + 1)]  # nothing lost or repeated
    assert messages[-1].data == "[DONE]"
    assert text_of(messages).endswith("ending.") or text_of(messages).endswith("arrives.")


async def test_a_builtin_error_event_ends_the_stream_and_the_reconnect_is_204(builtin):
    connections = await reconnect_until_closed(builtin, "/v1/stream/error-event?format=content")
    first, last = connections
    assert (first.status, last.status, last.body) == (200, 204, b"")
    error = first.messages[-1]
    assert "error" in error.json()
    assert error.id == "13"  # the reply's last id: 12 tokens and [DONE]
    assert text_of(first.messages[:-1]) == "Four tokens arrive, then"
    assert [e["request"]["last_event_id"] for e in await journal(builtin)] == [None, "13"]


async def test_an_error_event_on_a_resumed_stream_also_carries_the_last_id(serve):
    server = await serve(late='reply: {tokens: ["a", " b", " c", " d"]}\n'
                              "attempts: [{faults: [{drop: {after: 1}}]}, {faults: [{error_event: {after: 1}}]}]\n")
    connections = await reconnect_until_closed(server, "/v1/stream/late?format=content")
    assert [c.status for c in connections] == [200, 200, 204]
    assert [m.id for m in delivered(connections)] == ["1", "2", "5"]  # a, b, then the error past [DONE]'s id


FAULT_ON_EVERY_ATTEMPT = [
    "{status: {code: 429}}",
    "{status: {code: 500}}",
    "{drop: {before: headers}}",
    "{drop: {after: 0}}",
    "{content_type: {value: text/html, body: oops}}",
    "{slow_headers: {delay: 0s}}",
    "{stall: {after: 0, for: forever}}",
    "{error_event: {after: 0}}",
]
FAULT_IDS = ["429", "500", "drop-before-headers", "drop-after-0", "html", "slow-headers", "stall-forever",
             "error-event"]


@pytest.mark.parametrize("fault", FAULT_ON_EVERY_ATTEMPT, ids=FAULT_IDS)
async def test_a_resume_with_nothing_left_is_204_whatever_the_faults(serve, fault):
    server = await serve(faulty=f'reply: {{tokens: ["a", " b"]}}\nfaults: [{fault}]\n')
    got = await get(server, "/v1/stream/faulty?format=content", **{"Last-Event-ID": "3"})  # a, b, [DONE]
    assert (got.status, got.body, got.error) == (204, b"", None)
    [entry] = await journal(server)
    assert (entry["status"], entry["outcome"], entry["faults"]) == (204, "completed", [])


async def test_after_n_does_not_fire_again_on_a_resume_with_fewer_tokens_left(serve):
    server = await serve(cut='reply: {tokens: ["a", " b", " c", " d", " e"]}\nfaults: [{drop: {after: 3}}]\n')
    first = await get(server, "/v1/stream/cut?format=content")
    assert first.error is not None and text_of(first.messages) == "a b c"
    second = await get(server, "/v1/stream/cut?format=content", **{"Last-Event-ID": first.messages[-1].id})
    assert second.error is None  # two tokens left: fewer than the three the drop waits for
    assert text_of(second.messages) == " d e" and second.messages[-1].data == "[DONE]"
    assert "X-Mockllm-Faults" not in second.headers
    entries = await journal(server)
    assert [(e["outcome"], e["faults"]) for e in entries] == [("dropped", ["drop(after=3)"]), ("completed", [])]


async def test_on_a_fresh_stream_after_n_past_the_end_still_acts_after_the_last_token(serve):
    server = await serve(short='reply: {tokens: ["a", " b"]}\nfaults: [{drop: {after: 5}}]\n')
    got = await get(server, "/v1/stream/short?format=content")
    assert got.error is not None
    assert text_of(got.messages) == "a b" and got.messages[-1].data != "[DONE]"


@pytest.mark.parametrize("scenario", ["drop-reset", "error-event"])
async def test_an_eventsource_at_a_mount_ends_too(start_server, scenario):
    server = await start_server(speed=50, mounts=(("/api/chat", "content"),))
    connections = await reconnect_until_closed(server, f"/api/chat?scenario={scenario}")
    assert connections[-1].status == 204 and len(connections) <= 6
