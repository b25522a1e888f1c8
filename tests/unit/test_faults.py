"""faults/: each fault as a pure transform of a compiled script, no sockets.

The reply most tests use streams five one-letter tokens at exact binary
offsets, so every expected time below is exact:

    beat   0     1    2     3    4     5    6       7
    event  role  a    b     c    d     e    finish  [DONE]
    at     0     1    1.25  1.5  1.75  2    2.25    2.25
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from mockllm import events, faults, script
from mockllm.dialects import Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.faults import Context, Cut, FaultSpec, Trigger
from mockllm.faults.body import Drop, Stall
from mockllm.faults.framing import Bandwidth
from mockllm.faults.head import Status
from mockllm.parse import parse_text
from mockllm.script import Beat, End, Script

PLAIN = "name: plain\nreply: {tokens: [a, b, c, d, e]}\ntiming: {first_token: 1, per_token: 0.25}\n"
TOOLS = (
    "name: tools\n"
    "reply: {text: Hi there, tool_calls: [{name: f, id: call_1, arguments: '{\"a\": 1}'}]}\n"
    "timing: {first_token: 1, per_token: 0.25}\n"
)
EMPTY = "name: empty\nreply: {text: ''}\ntiming: {first_token: 1, per_token: 0.25}\n"
CJK = "name: cjk\nreply: {text: 東京は 今日も 晴れです}\ntiming: {per_token: 0.25}\n"

STREAM = Ask(model="m", stream=True, include_obfuscation=False)
OBFUSCATED = Ask(model="m", stream=True)
WHOLE = Ask(model="m", stream=False)

PING = b": ping\n\n"
BOM = b"\xef\xbb\xbf"
RATE_LIMIT_HEADERS = (
    ("retry-after", "1"),
    ("x-ratelimit-limit-requests", "500"),
    ("x-ratelimit-limit-tokens", "200000"),
    ("x-ratelimit-remaining-requests", "0"),
    ("x-ratelimit-remaining-tokens", "199996"),
    ("x-ratelimit-reset-requests", "1s"),
    ("x-ratelimit-reset-tokens", "1ms"),
)
ERROR_JSON = "application/json; charset=utf-8"


def run(
    fault_list: str, text: str = PLAIN, ask: Ask = STREAM, speed: float = 1.0, seed: int = 0
) -> tuple[Script, Script]:
    """The script of ``text`` before and after the faults written as YAML, at ``speed``."""
    scenario = parse_text(f"{text}faults: {fault_list}\n", "t.yaml").at_speed(speed)
    base = script.compile(scenario, ask, openai_chat, rng=random.Random(0), created=1).materialized()
    return base, faults.apply(base, scenario.faults, random.Random(seed))


def compiled(text: str = PLAIN, ask: Ask = STREAM, speed: float = 1.0) -> Script:
    return run("[]", text, ask, speed)[0]


def specs(fault_list: str) -> tuple[FaultSpec, ...]:
    return parse_text(f"{PLAIN}faults: {fault_list}\n", "t.yaml").faults


def request_id(s: Script) -> tuple[str, str]:
    [pair] = [(n, v) for n, v in s.headers if n == "x-request-id"]
    return pair


def payload(beat: Beat) -> bytes:
    assert beat.data.startswith(b"data: ") and beat.data.endswith(b"\n\n")
    return beat.data[len(b"data: ") : -2]


# -- triggers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "cut"),
    [(0, Cut(1, 1.0)), (1, Cut(2, 1.25)), (3, Cut(4, 1.75)), (4, Cut(5, 2.0)), (5, Cut(6, 2.25)), (99, Cut(6, 2.25))],
    ids=["after-0-before-the-first-token-not-the-role-chunk", "after-1", "after-3", "after-4-before-the-last",
         "after-all-right-after-the-last-token", "beyond-the-reply-right-after-the-last-token"],
)
def test_after_n_cuts_right_before_the_next_content_token(after, cut):
    assert Trigger(after=after).locate(compiled()) == cut


@pytest.mark.parametrize(
    ("after", "index"),
    [(1, 2), (2, 4), (3, 5), (6, 8), (7, 9), (8, 9)],
    ids=["text-token", "skips-the-tool-call-opening", "argument-fragment", "last-fragment",
         "after-everything", "beyond"],
)
def test_tool_call_argument_fragments_count_as_content_tokens(after, index):
    # role, "Hi", " there", call opening, '{"', 'a', '":', ' 1', '}', finish, [DONE]
    s = compiled(TOOLS)
    assert [b.tokens for b in s.beats] == [0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0]
    assert Trigger(after=after).locate(s) == Cut(index, s.beats[index].at)


def test_after_n_on_a_reply_without_content_acts_after_the_opening():
    s = compiled(EMPTY)
    assert Trigger(after=3).locate(s) == Cut(1, s.beats[1].at)


def test_after_done_is_after_the_done_beat():
    s = compiled()
    assert s.beats[7].is_done
    assert Trigger(done=True).locate(s) == Cut(8, 2.25)
    _, doubled = run("[duplicate_done]")
    assert Trigger(done=True).locate(doubled) == Cut(9, 2.25)


@pytest.mark.parametrize(
    ("at", "speed", "headers_at", "cut"),
    [
        (0.0, 1.0, 0.0, Cut(0, 0.0)),
        (1.3, 1.0, 0.0, Cut(3, 1.3)),
        (1.5, 1.0, 0.0, Cut(3, 1.5)),
        (1.51, 1.0, 0.0, Cut(4, 1.51)),
        (9.0, 1.0, 0.0, Cut(8, 9.0)),
        (1.3, 2.0, 0.0, Cut(3, 0.65)),
        (1.0, 1.0, 0.5, Cut(1, 1.5)),
    ],
    ids=["zero", "between-beats", "exactly-on-a-beat", "just-after-a-beat", "after-the-end",
         "divided-by-speed", "counted-from-the-headers"],
)
def test_at_is_the_first_beat_at_or_after_the_offset_into_the_body(at, speed, headers_at, cut):
    # Late headers move the beats with them: the same beat is found, later.
    s = compiled(speed=speed).shifted(headers_at, 0, headers=True)
    assert Trigger(at=at).at_speed(speed).locate(s) == dataclasses.replace(cut, at=pytest.approx(cut.at))


def test_before_headers_cuts_at_the_headers():
    s = compiled().shifted(0.5, 0, headers=True)
    assert Trigger(before_headers=True).locate(s) == Cut(0, 0.5, before_headers=True)


# -- drop ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kept", "end", "end_at", "label"),
    [
        ("{after: 3}", 4, End.RESET, 1.75, "drop(after=3)"),
        ("{after: 3, mode: close}", 4, End.CLOSE, 1.75, "drop(after=3,mode=close)"),
        ("{after: 0}", 1, End.RESET, 1.0, "drop"),
        ("{at: 1.3s, mode: close}", 3, End.CLOSE, 1.3, "drop(at=1.3s,mode=close)"),
        ("{after: done}", 8, End.RESET, 2.25, "drop(after=done)"),
    ],
    ids=["after-3-reset", "after-3-close", "after-0", "at-a-time", "after-done"],
)
def test_drop_sends_exactly_the_beats_before_the_cut(written, kept, end, end_at, label):
    base, dropped = run(f"[{{drop: {written}}}]")
    assert dropped == dataclasses.replace(base, beats=base.beats[:kept], end=end, end_at=end_at, faults=(label,))
    assert b"[DONE]" not in dropped.body or kept == 8


@pytest.mark.parametrize(("mode", "end"), [("reset", End.RESET), ("close", End.CLOSE)], ids=["reset", "close"])
@pytest.mark.parametrize("ask", [STREAM, WHOLE], ids=["stream", "not-streamed"])
def test_drop_before_headers_sends_no_response(mode, end, ask):
    base, dropped = run(f"[{{drop: {{before: headers, mode: {mode}}}}}]", ask=ask)
    assert (dropped.respond, dropped.beats, dropped.end, dropped.end_at) == (False, (), end, None)
    assert dropped.status == base.status


def test_drop_after_0_applies_to_a_response_that_is_not_streamed():
    _, dropped = run("[{drop: {after: 0, mode: close}}]", ask=WHOLE)
    assert (dropped.respond, dropped.beats, dropped.end) == (False, (), End.CLOSE)
    assert (dropped.faults, dropped.ignored) == (("drop(mode=close)",), ())


def test_drop_mid_body_is_ignored_for_a_response_that_is_not_streamed():
    base, result = run("[{drop: {after: 3}}]", ask=WHOLE)
    assert result == dataclasses.replace(base, ignored=("drop(after=3)",))
    assert result.respond and result.end is End.EOF


# -- stall -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "speed", "pings", "shift"),
    [
        ("{after: 2, for: 1s, heartbeat: 0.25s}", 1.0, [1.75, 2.0, 2.25], 1.0),
        ("{after: 2, for: 1s, heartbeat: 0.25s}", 2.0, [0.875, 1.0, 1.125], 0.5),
        ("{after: 2, for: 1s, heartbeat: 0.5s}", 1.0, [2.0], 1.0),
        ("{after: 2, for: 1s, heartbeat: 2s}", 1.0, [], 1.0),
        ("{after: 2, for: 1s}", 1.0, [], 1.0),
    ],
    ids=["heartbeats", "scaled-by-speed", "none-on-the-resume-instant", "heartbeat-longer-than-stall",
         "silent"],
)
def test_stall_for_a_while_shifts_later_beats_with_pings_strictly_inside(written, speed, pings, shift):
    base, stalled = run(f"[{{stall: {written}}}]", speed=speed)
    cut = 3  # before "c"
    later = tuple(b._replace(at=b.at + shift) for b in base.beats[cut:])
    assert stalled.beats == base.beats[:cut] + tuple(Beat(at, PING) for at in pings) + later
    assert (stalled.end, stalled.end_at, stalled.keepalive, stalled.respond) == (End.EOF, None, None, True)


@pytest.mark.parametrize(
    ("written", "speed", "keepalive"),
    [("{after: 2}", 1.0, None), ("{after: 2, heartbeat: 0.5s}", 1.0, (0.5, PING)),
     ("{after: 2, heartbeat: 0.5s}", 2.0, (0.25, PING))],
    ids=["silent", "heartbeat", "heartbeat-scaled-by-speed"],
)
def test_stall_forever_hangs_after_the_cut(written, speed, keepalive):
    base, stalled = run(f"[{{stall: {written}}}]", speed=speed)
    assert stalled.beats == base.beats[:3]
    assert (stalled.end, stalled.end_at, stalled.keepalive) == (End.HANG, 1.5 / speed, keepalive)


def test_stall_forever_written_explicitly_is_the_default():
    _, default = run("[{stall: {after: 2}}]")
    _, explicit = run("[{stall: {after: 2, for: forever}}]")
    assert default == explicit


def test_stall_after_done_holds_the_socket_open_then_ends():
    base, stalled = run("[{stall: {after: done, for: 1s, heartbeat: 0.5s}}]")
    assert stalled.beats == base.beats + (Beat(2.75, PING),)
    assert (stalled.end, stalled.end_at) == (End.EOF, 3.25)


@pytest.mark.parametrize("ask", [STREAM, WHOLE], ids=["stream", "not-streamed"])
def test_stall_before_headers_for_a_while_delays_the_whole_response(ask):
    base, stalled = run("[{stall: {before: headers, for: 2s}}]", ask=ask)
    assert stalled.headers_at == base.headers_at + 2
    assert stalled.beats == tuple(b._replace(at=b.at + 2) for b in base.beats)
    assert (stalled.respond, stalled.end, stalled.ignored) == (True, End.EOF, ())


@pytest.mark.parametrize("ask", [STREAM, WHOLE], ids=["stream", "not-streamed"])
def test_stall_forever_before_headers_never_answers(ask):
    _, stalled = run("[{stall: {before: headers, heartbeat: 1s}}]", ask=ask)
    assert (stalled.respond, stalled.beats, stalled.end) == (False, (), End.HANG)


def test_stall_mid_body_is_ignored_for_a_response_that_is_not_streamed():
    base, result = run("[{stall: {after: 2, for: 1s}}]", ask=WHOLE)
    assert result == dataclasses.replace(base, ignored=("stall(after=2,for=1s)",))


# -- malformed -------------------------------------------------------------------


def _invalid_json(good: Beat, bad: Beat) -> None:
    with pytest.raises(ValueError):
        json.loads(payload(bad))


def _truncated_json(good: Beat, bad: Beat) -> None:
    _invalid_json(good, bad)
    assert payload(good).startswith(payload(bad))


def _bad_utf8(good: Beat, bad: Beat) -> None:
    assert b"\xff\xfe" in bad.data
    with pytest.raises(UnicodeDecodeError):
        bad.data.decode("utf-8")


def _no_data_prefix(good: Beat, bad: Beat) -> None:
    assert b"data: " not in bad.data
    assert bad.data == good.data[len(b"data: ") :]


def _wrong_schema(good: Beat, bad: Beat) -> None:
    assert bad.data == b'data: {"foo":"bar"}\n\n'


BROKEN = {
    "invalid_json": _invalid_json,
    "truncated_json": _truncated_json,
    "bad_utf8": _bad_utf8,
    "no_data_prefix": _no_data_prefix,
    "wrong_schema": _wrong_schema,
}


@pytest.mark.parametrize("ask", [STREAM, OBFUSCATED], ids=["plain", "obfuscated"])
@pytest.mark.parametrize("kind", list(BROKEN), ids=list(BROKEN))
def test_malformed_replaces_exactly_one_beat(kind, ask):
    base, broken = run(f"[{{malformed: {{after: 2, kind: {kind}}}}}]", ask=ask)
    assert broken.beats[:3] == base.beats[:3]
    assert broken.beats[4:] == base.beats[4:]
    good, bad = base.beats[3], broken.beats[3]
    assert (bad.at, bad.tokens, bad.event) == (good.at, 1, None)
    assert bad.data != good.data
    BROKEN[kind](good, bad)
    assert (broken.end, broken.end_at) == (End.EOF, None)


def test_malformed_defaults_to_invalid_json_in_the_first_content_token():
    base, broken = run("[malformed]")
    assert [b.data == g.data for b, g in zip(broken.beats, base.beats)] == [True, False] + [True] * 6
    _invalid_json(base.beats[1], broken.beats[1])


def test_malformed_bad_utf8_breaks_tool_call_arguments_too():
    base, broken = run("[{malformed: {after: 4, kind: bad_utf8}}]", text=TOOLS)
    assert broken.beats[6].data == base.beats[6].data.replace(b'"arguments":"', b'"arguments":"\xff\xfe')
    assert [b.data == g.data for b, g in zip(broken.beats, base.beats)].count(False) == 1


# -- error_event, no_done, no_finish, duplicate_done -----------------------------


@pytest.mark.parametrize(
    ("written", "error"),
    [
        (
            "{after: 2, message: boom, type: server_error, code: oops}",
            events.Error("boom", "server_error", "oops"),
        ),
        (
            "{after: 2}",
            events.Error(),
        ),
    ],
    ids=["custom", "default"],
)
def test_error_event_ends_the_body_with_the_providers_error(written, error):
    base, failed = run(f"[{{error_event: {written}}}]")
    message = error.message or "The server had an error while processing your request. Sorry about that!"
    body = {"error": {"message": message, "type": error.type or "server_error", "param": None, "code": error.code}}
    wire = b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
    assert failed.beats == base.beats[:3] + (Beat(1.5, wire, event=error),)
    assert (failed.end, failed.end_at) == (End.EOF, None)
    assert b"[DONE]" not in failed.body


def test_no_done_leaves_out_only_the_terminator():
    base, result = run("[no_done]")
    assert result.beats == base.beats[:7]
    assert b"[DONE]" not in result.body
    assert result.end is End.EOF


def test_no_finish_leaves_out_only_the_finish_chunk():
    base, result = run("[no_finish]")
    assert result.beats == base.beats[:6] + base.beats[7:]
    assert b'"finish_reason":"stop"' not in result.body
    assert result.body.endswith(b"data: [DONE]\n\n")


def test_duplicate_done_sends_the_terminator_twice():
    base, result = run("[duplicate_done]")
    assert result.beats == base.beats + base.beats[7:]
    assert result.body.endswith(b"data: [DONE]\n\ndata: [DONE]\n\n")


# -- fragment, coalesce, bandwidth ---------------------------------------------


def _pieces_per_beat(base: Script, result: Script, size: int) -> list[tuple[Beat, ...]]:
    """The result's beats grouped by the original beat they were cut from."""
    groups, start = [], 0
    for beat in base.beats:
        count = max(1, -(-len(beat.data) // size))
        groups.append(result.beats[start : start + count])
        start += count
    assert start == len(result.beats)
    return groups


@pytest.mark.parametrize("speed", [1.0, 4.0], ids=["speed-1", "speed-4"])
@pytest.mark.parametrize("size", [1, 7, 64, 10_000], ids=["1-byte", "7-bytes", "64-bytes", "larger-than-events"])
def test_fragment_cuts_every_event_into_small_timed_writes(size, speed):
    base, result = run(f"[{{fragment: {{bytes: {size}, interval: 10ms}}}}]", text=TOOLS, speed=speed)
    assert result.body == base.body
    assert all(len(b.data) <= size for b in result.beats)
    times = [b.at for b in result.beats]
    assert times == sorted(times)
    assert sum(b.tokens for b in result.beats) == sum(b.tokens for b in base.beats)
    gap = 0.01  # a transport property: --speed does not shrink it
    for beat, pieces in zip(base.beats, _pieces_per_beat(base, result, size)):
        assert b"".join(p.data for p in pieces) == beat.data
        assert [p.tokens for p in pieces] == [0] * (len(pieces) - 1) + [beat.tokens]
        assert pieces[0].at >= beat.at
        assert [b.at - a.at for a, b in zip(pieces, pieces[1:])] == pytest.approx([gap] * (len(pieces) - 1))


def test_fragment_cuts_through_utf8_characters():
    base, result = run("[{fragment: {bytes: 7}}]", text=CJK)
    inside = [
        piece for piece in result.beats[1:]
        if 0x80 <= piece.data[0] < 0xC0  # a UTF-8 continuation byte: the cut split a character
    ]
    assert inside
    assert result.body.decode("utf-8") == base.body.decode("utf-8")


@pytest.mark.parametrize("size", [1, 3, 8, 100], ids=["1", "3", "all-8", "more-than-all"])
def test_coalesce_joins_groups_of_events_at_the_last_ones_time(size):
    base, result = run(f"[{{coalesce: {{events: {size}}}}}]")
    groups = [base.beats[i : i + size] for i in range(0, len(base.beats), size)]
    assert result.beats == tuple(
        Beat(g[-1].at, b"".join(b.data for b in g), sum(b.tokens for b in g)) for g in groups
    )
    assert result.body == base.body


def test_coalesce_3_groups_the_plain_reply_as_expected():
    _, result = run("[{coalesce: {events: 3}}]")
    assert [(b.at, b.tokens) for b in result.beats] == [(1.25, 2), (2.0, 3), (2.25, 0)]


@pytest.mark.parametrize(
    ("rate", "speed", "headers_at"),
    [(200, 1.0, 0.0), (1000, 1.0, 0.0), (200, 4.0, 0.0), (10, 1.0, 0.0), (200, 1.0, 3.0)],
    ids=["200", "1000", "speed-4", "10-one-byte-writes", "late-headers"],
)
def test_bandwidth_never_sends_faster_than_the_rate(rate, speed, headers_at):
    base = compiled(speed=speed).shifted(headers_at, 0, headers=True)
    result = Bandwidth(rate).at_speed(speed).apply(base, Cut(0, 0.0), Context(random.Random(0)))
    assert result.body == base.body
    times = [b.at for b in result.beats]
    assert times == sorted(times)
    bytes_per_second = rate * speed
    piece = max(len(b.data) for b in result.beats)
    for t in times:
        sent = sum(len(b.data) for b in result.beats if b.at <= t)
        assert sent <= bytes_per_second * (t - headers_at) + piece + 1e-6
    # Slow, not just split: the last write waits for the pipe.
    assert times[-1] >= headers_at + (len(base.body) - piece) / bytes_per_second - 1e-6


def test_bandwidth_through_the_fault_table_lists_its_label():
    base, result = run("[{bandwidth: {bytes_per_second: 500}}]")
    assert result.body == base.body
    assert result.faults == ("bandwidth(bytes_per_second=500)",)


# -- bom, line_endings -----------------------------------------------------------


def test_bom_goes_before_the_first_beat_only():
    base, result = run("[bom]")
    assert result.beats[0] == base.beats[0]._replace(data=BOM + base.beats[0].data)
    assert result.beats[1:] == base.beats[1:]
    assert result.body.count(BOM) == 1


@pytest.mark.parametrize(("style", "ending"), [("crlf", b"\r\n"), ("cr", b"\r")], ids=["crlf", "cr"])
def test_line_endings_replace_every_newline_and_nothing_else(style, ending):
    base, result = run(f"[{{line_endings: {{style: {style}}}}}]", text=TOOLS)
    assert len(result.beats) == len(base.beats)
    for new, old in zip(result.beats, base.beats):
        assert new == old._replace(data=old.data.replace(b"\n", ending))
    assert b"\n" not in result.body.replace(b"\r\n", b"")


# -- status, content_type, slow_headers ----------------------------------------


def _error_body(message: str, type_: str, code: str | None) -> bytes:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return (json.dumps(body, indent=4, ensure_ascii=False) + "\n").encode("utf-8")


def test_status_429_answers_like_the_rate_limiter():
    base, result = run("[{status: {code: 429}}]")
    message = (
        "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. "
        "Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more."
    )
    body = _error_body(message, "requests", "rate_limit_exceeded")
    assert body.startswith(b'{\n    "error": {\n        "message": ') and body.endswith(b"}\n")
    assert result == dataclasses.replace(
        base,
        status=429,
        headers=(("Content-Type", ERROR_JSON), request_id(base), *RATE_LIMIT_HEADERS),
        beats=(Beat(base.headers_at, body),),
        streaming=False,
        faults=("status(code=429)",),
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("{code: 429, headers: {retry-after: null}}", RATE_LIMIT_HEADERS[1:]),
        ("{code: 429, headers: {Retry-After: 30}}", (("Retry-After", "30"),) + RATE_LIMIT_HEADERS[1:]),
        ("{code: 429, headers: {x-custom: abc}}", RATE_LIMIT_HEADERS + (("x-custom", "abc"),)),
        ("{code: 503, headers: {retry-after: 2.5}}", (("retry-after", "2.5"),)),
        ("{code: 500}", ()),
    ],
    ids=["null-removes-retry-after", "override-case-insensitively", "custom-added", "custom-on-503",
         "no-rate-limit-headers-on-500"],
)
def test_status_headers(written, expected):
    base, result = run(f"[{{status: {written}}}]")
    assert result.headers == (("Content-Type", ERROR_JSON), request_id(base), *expected)


@pytest.mark.parametrize(
    ("written", "status", "error"),
    [
        ("{code: 500}", 500, ("The server had an error while processing your request. Sorry about that!",
                              "server_error", None)),
        ("{code: 503}", 503, ("The server is overloaded or not ready yet.", "server_error", None)),
        ("{code: 599}", 599, ("Error 599.", "server_error", None)),
        ("{code: 418}", 418, ("Error 418.", "invalid_request_error", None)),
        ("{code: 401}", 401, (
            "Incorrect API key provided: sk-mock****. You can find your API key at "
            "https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")),
        ("{code: 429, message: slow down, type: tokens, error_code: quota}", 429, ("slow down", "tokens", "quota")),
        ("{code: 500, message: 'überlastet'}", 500, ("überlastet", "server_error", None)),
        ("status", 500, ("The server had an error while processing your request. Sorry about that!",
                         "server_error", None)),
    ],
    ids=["500", "503", "unknown-5xx", "unknown-4xx", "401", "custom-message-type-code", "non-ascii-message",
         "bare"],
)
def test_status_body_is_the_openai_error_object(written, status, error):
    fault = written if written == "status" else f"{{status: {written}}}"
    _, result = run(f"[{fault}]")
    assert result.status == status
    assert result.beats == (Beat(0.0, _error_body(*error)),)
    assert (result.streaming, result.respond, result.end, result.end_at) == (False, True, End.EOF, None)


def test_status_applies_to_a_response_that_is_not_streamed():
    base, result = run("[{status: {code: 502}}]", ask=WHOLE)
    assert (result.status, result.faults, result.ignored) == (502, ("status(code=502)",), ())
    assert result.beats == (Beat(base.headers_at, _error_body("Bad gateway.", "server_error", None)),)


def test_content_type_defaults_to_an_nginx_502_page_with_status_200():
    base, result = run("[content_type]")
    assert result.status == 200
    assert result.headers == (("Content-Type", "text/html; charset=utf-8"), request_id(base))
    [beat] = result.beats
    assert beat.at == base.headers_at
    assert beat.data.startswith(b"<html>\r\n<head><title>502 Bad Gateway</title></head>")
    assert b"<hr><center>nginx</center>" in beat.data
    assert (result.streaming, result.end) == (False, End.EOF)


@pytest.mark.parametrize("ask", [STREAM, WHOLE], ids=["stream", "not-streamed"])
def test_content_type_sends_the_status_type_and_body_given(ask):
    base, result = run("[{content_type: {value: text/plain, body: 'upstream ✗', status: 502}}]", ask=ask)
    assert result.status == 502
    assert result.headers == (("Content-Type", "text/plain"), request_id(base))
    assert result.beats == (Beat(base.headers_at, "upstream ✗".encode()),)


@pytest.mark.parametrize(
    ("written", "speed", "shift"),
    [("slow_headers", 1.0, 5.0), ("{slow_headers: {delay: 1.5s}}", 1.0, 1.5),
     ("{slow_headers: {delay: 1s}}", 2.0, 0.5)],
    ids=["default-5s", "given", "divided-by-speed"],
)
@pytest.mark.parametrize("ask", [STREAM, WHOLE], ids=["stream", "not-streamed"])
def test_slow_headers_shifts_the_headers_and_every_beat(written, speed, shift, ask):
    base, result = run(f"[{written}]", ask=ask, speed=speed)
    assert result.headers_at == base.headers_at + shift
    assert result.beats == tuple(b._replace(at=b.at + shift) for b in base.beats)
    assert (result.status, result.headers, result.end) == (base.status, base.headers, End.EOF)


# -- composition ---------------------------------------------------------------


@pytest.mark.parametrize(
    "fault_list",
    ["[{fragment: {bytes: 5}}, line_endings]", "[line_endings, {fragment: {bytes: 5}}]"],
    ids=["fragment-first", "line-endings-first"],
)
def test_line_endings_are_rewritten_before_the_bytes_are_cut(fault_list):
    base, result = run(fault_list)
    assert result.faults == ("line_endings", "fragment(bytes=5)")
    assert result.body == base.body.replace(b"\n", b"\r\n")
    assert all(len(b.data) <= 5 for b in result.beats)
    pairs = zip(result.beats, result.beats[1:])
    assert any(a.data.endswith(b"\r") and b.data.startswith(b"\n") for a, b in pairs)


@pytest.mark.parametrize(
    "fault_list",
    [
        "[{drop: {after: 3}}, {status: {code: 503}}]",
        "[{status: {code: 503}}, {drop: {after: 3}}]",
        "[{status: {code: 503}}, {drop: {before: headers}}]",
        "[{status: {code: 503}}, {stall: {after: 1}}]",
        "[{status: {code: 503}}, {stall: {before: headers}}]",
        "[{status: {code: 503}}, fragment, bom, no_done]",
    ],
    ids=["after-drop", "before-drop", "over-drop-before-headers", "over-stall-forever",
         "over-stall-forever-before-headers", "over-body-faults"],
)
def test_a_status_wins_over_every_other_fault(fault_list):
    _, result = run(fault_list)
    assert result.status == 503
    assert result.beats == (Beat(0.0, _error_body("The server is overloaded or not ready yet.", "server_error", None)),)
    assert (result.respond, result.end, result.end_at, result.keepalive, result.streaming) == (
        True, End.EOF, None, None, False)
    assert result.faults[-1] == "status(code=503)"


def test_faults_are_applied_and_labelled_in_order_whatever_the_written_order():
    written = "[status, fragment, {drop: {after: 3}}, bom, no_done, {malformed: {after: 1}}]"
    _, result = run(written)
    assert result.faults == ("no_done", "malformed(after=1)", "drop(after=3)", "bom", "fragment", "status(code=500)")


def test_stream_only_faults_are_listed_as_ignored_when_not_streamed():
    base, result = run("[fragment, {drop: {after: 3}}, no_done, {slow_headers: {delay: 1s}}]", ask=WHOLE)
    assert result.faults == ("slow_headers(delay=1s)",)
    assert result.ignored == ("no_done", "drop(after=3)", "fragment")
    assert result.beats == (base.beats[0]._replace(at=base.beats[0].at + 1),)


@pytest.mark.parametrize("seed", range(20))
def test_probability_0_never_applies(seed):
    base, result = run("[{drop: {after: 1, probability: 0}}, {status: {probability: 0.0}}]", seed=seed)
    assert result == base
    assert result.faults == result.ignored == ()


@pytest.mark.parametrize("seed", range(20))
def test_probability_1_always_applies(seed):
    _, result = run("[{drop: {after: 1, probability: 1}}, {no_done: {probability: 1.0}}]", seed=seed)
    assert result.faults == ("no_done", "drop(after=1)")


CHANCY = "[{drop: {after: 3, probability: 0.5}}, {no_done: {probability: 0.5}}, {bom: {probability: 0.5}}]"


def test_probability_draws_are_reproducible_and_vary_between_seeds():
    first = [run(CHANCY, seed=seed)[1].faults for seed in range(50)]
    again = [run(CHANCY, seed=seed)[1].faults for seed in range(50)]
    assert first == again
    assert len(set(first)) == 8  # every combination of three coin flips turns up


@pytest.mark.parametrize("seed", range(50))
def test_every_probability_is_drawn_in_the_written_order(seed):
    rng = random.Random(seed)
    drop, no_done, bom = (rng.random() < 0.5 for _ in range(3))
    expected = [label for label, chosen in [("no_done", no_done), ("drop(after=3)", drop), ("bom", bom)] if chosen]
    assert run(CHANCY, seed=seed)[1].faults == tuple(expected)


@pytest.mark.parametrize("seed", range(50))
def test_a_fault_that_fails_its_draw_does_not_shift_the_next_draw(seed):
    never = run("[{drop: {probability: 0}}, {no_done: {probability: 0.5}}]", seed=seed)[1]
    always = run("[{drop: {probability: 1}}, {no_done: {probability: 0.5}}]", seed=seed)[1]
    assert ("no_done" in never.faults) == ("no_done" in always.faults)


def test_apply_with_no_faults_returns_the_script_unchanged():
    base = compiled()
    assert faults.apply(base, (), random.Random(0)) is base


# -- labels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "label"),
    [
        ("{drop: {after: 3, mode: close}}", "drop(after=3,mode=close)"),
        ("{drop: {before: headers}}", "drop(before=headers)"),
        ("{stall: {after: 2, for: 1s, heartbeat: 0.5s}}", "stall(after=2,for=1s,heartbeat=0.5s)"),
        ("{stall: {at: 1.5s, for: 250ms}}", "stall(at=1.5s,for=0.25s)"),
        ("{malformed: {after: done, kind: bad_utf8}}", "malformed(after=done,kind=bad_utf8)"),
        ("{error_event: {after: 0}}", "error_event"),
        ("no_done", "no_done"),
        ("{fragment: {bytes: 3}}", "fragment(bytes=3)"),
        ("{status: {code: 429, headers: {retry-after: null, x-a: 1}}}",
         "status(code=429,headers={retry-after:None,x-a:1})"),
        ("{content_type: {value: text/plain}}", "content_type(value=text/plain)"),
        ("{slow_headers: {delay: 2m}}", "slow_headers(delay=120s)"),
    ],
    ids=["drop", "drop-before-headers", "stall", "stall-at", "malformed", "default-trigger-not-shown",
         "bare", "fragment", "status-headers", "content-type", "slow-headers"],
)
def test_labels_name_the_fault_and_the_parameters_given(written, label):
    [spec] = specs(f"[{written}]")
    assert spec.describe() == label


@pytest.mark.parametrize(
    ("written", "label"),
    [
        ("{status: {code: 503, message: \"h\\xe9llo\\nw\\u00f6rld\"}}", r"status(code=503,message=h\xe9llo\nw\xf6rld)"),
        ("{status: {headers: {x-note: \"caf\\xe9\\t\"}}}", r"status(code=500,headers={x-note:caf\xe9\t})"),
        ("{error_event: {message: \"東京\\tgo\"}}", r"error_event(message=\u6771\u4eac\tgo)"),
        ("{content_type: {body: \"<p>\\n</p>\"}}", r"content_type(body=<p>\n</p>)"),
    ],
    ids=["status-message", "header-value", "error-event-message", "content-type-body"],
)
def test_labels_are_one_line_of_ascii_whatever_the_parameters(written, label):
    [spec] = specs(f"[{written}]")
    described = spec.describe()
    assert described == label
    assert described.isascii() and "\n" not in described and "\r" not in described
    _, result = run(f"[{written}]")
    assert result.faults == (label,)


def test_a_fault_spec_built_directly_applies_like_a_parsed_one():
    written = run("[{stall: {after: 2, for: 1s}}, {drop: {after: 4, mode: close}}]")[1]
    base = compiled()
    built = faults.apply(
        base,
        (FaultSpec(Stall(1.0), Trigger(after=2)), FaultSpec(Drop("close"), Trigger(after=4))),
        random.Random(0),
    )
    assert built == written
    assert built.beats[-1].at == 2.75 and built.end_at == 3.0  # "d" delayed by the stall, then the cut


def test_status_apply_called_directly_with_a_cut_and_context():
    base = compiled()
    result = Status(code=404).apply(base, Trigger().locate(base), Context(random.Random(0)))
    assert result.status == 404
    assert json.loads(result.body)["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("fault", ["[{fragment: {bytes: 1}}]", "[{bandwidth: {bytes_per_second: 1}}]"],
                         ids=["fragment", "bandwidth"])
def test_a_long_stream_is_cut_into_a_bounded_number_of_writes_with_the_same_bytes(fault, monkeypatch):
    from mockllm.faults import framing

    monkeypatch.setattr(framing, "MAX_WRITES", 500)  # the bound, made small enough to test quickly
    text = "name: long\nreply: {text: " + " ".join(["word"] * 400) + "}\n"
    base, faulted = run(fault, text)
    assert len(base.body) > 2000  # one byte a write would be far more than 500 writes
    assert faulted.body == base.body
    assert len(faulted.beats) <= 500 + len(base.beats)  # a piece never spans two events
