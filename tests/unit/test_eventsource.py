"""eventsource.py as pure functions: numbering, resuming and finishing a script.

The scripts here are built by hand, so every offset and byte is known: a
reply's events go out at 0.0 (the opening), 0.3, 0.4 and 0.5 (three tokens),
and 0.6 (finish and ``[DONE]``), with a comment (not an event) at 0.35.
"""

from __future__ import annotations

import random
import sys

import pytest

from mockllm import events, eventsource, faults, sse
from mockllm.dialects import Ask
from mockllm.dialects.content import DIALECT as content
from mockllm.faults import FaultSpec, Trigger
from mockllm.faults.body import Drop, ErrorEvent
from mockllm.faults.head import Status
from mockllm.scenario import Reply, Scenario, Timing
from mockllm.script import Beat, End, Script, compile

START = Beat(0.0, b'data: {"start":1}\n\n', 0, events.Start())
ONE = Beat(0.3, sse.data(b'{"t":"One"}'), 1, events.Text("One"))
PING = Beat(0.35, sse.comment("ping"), 0, events.Comment("ping"))
TWO = Beat(0.4, sse.data(b'{"t":" two"}'), 1, events.Text(" two"))
THREE = Beat(0.5, sse.data(b'{"t":" three"}'), 1, events.Text(" three"))
FINISH = Beat(0.6, sse.data(b'{"finish":"stop"}'), 0, events.Finish("stop"))
DONE = Beat(0.6, b"data: [DONE]\n\n", 0, events.Done())
BEATS = (START, ONE, PING, TWO, THREE, FINISH, DONE)
EVENTS = 6  # every beat but the comment
FORMAT_HEADERS = (("Content-Type", "text/event-stream; charset=utf-8"), ("x-request-id", "req_1"))


def script(beats=BEATS, **changes) -> Script:
    return Script(200, FORMAT_HEADERS, tuple(beats), **changes)


def numbered(last_event_id=None, retry=1.0, **changes) -> Script:
    return eventsource.numbered(script(**changes), retry=retry, last_event_id=last_event_id)


def with_id(beat: Beat, number: int, at: float | None = None) -> Beat:
    return beat._replace(data=b"id: %d\n" % number + beat.data, at=beat.at if at is None else at)


# -- numbered: a fresh stream ----------------------------------------------------


def test_the_retry_line_comes_first_then_every_event_with_its_position():
    assert numbered().beats == (
        Beat(0.0, b"retry: 1000\n\n"),
        with_id(START, 1),
        with_id(ONE, 2),
        PING,  # a comment is not an event of the reply: no id of its own
        with_id(TWO, 3),
        with_id(THREE, 4),
        with_id(FINISH, 5),
        with_id(DONE, 6),
    )


def test_the_body_is_exact_bytes():
    assert numbered(beats=(ONE, PING, DONE)).body == (
        b"retry: 1000\n\n"
        b'id: 1\ndata: {"t":"One"}\n\n'
        b": ping\n\n"
        b"id: 2\ndata: [DONE]\n\n"
    )


@pytest.mark.parametrize(
    ("retry", "line"),
    [(1.0, b"retry: 1000\n\n"), (0.1, b"retry: 100\n\n"), (2.5, b"retry: 2500\n\n"), (0.0, b"retry: 0\n\n")],
    ids=["default-1s", "100ms", "2.5s", "zero"],
)
def test_retry_is_announced_in_whole_milliseconds(retry, line):
    assert numbered(retry=retry).beats[0] == Beat(0.0, line)


def test_raw_bytes_get_no_id_but_an_error_event_does():
    raw = Beat(0.45, b"data: {oops\n\n", 0, events.Raw(b"data: {oops\n\n"))
    error = Beat(0.5, sse.data(b'{"error":{}}'), 0, events.Error("boom"))
    beats = numbered(beats=(ONE, raw, error)).beats
    assert beats[1:] == (with_id(ONE, 1), raw, with_id(error, 2))


def test_re_cut_bytes_without_an_event_get_no_id():
    piece = Beat(0.45, b'data: {"t"', 0, None)
    assert numbered(beats=(ONE, piece, TWO)).beats[1:] == (with_id(ONE, 1), piece, with_id(TWO, 2))


def test_the_timing_and_the_end_of_a_fresh_stream_are_unchanged():
    fresh = numbered(end=End.CLOSE, end_at=0.7)
    assert [beat.at for beat in fresh.beats] == [0.0] + [beat.at for beat in BEATS]
    assert (fresh.end, fresh.end_at, fresh.status, fresh.streaming) == (End.CLOSE, 0.7, 200, True)


def test_tokens_and_events_travel_with_their_beats():
    fresh = numbered()
    assert [beat.tokens for beat in fresh.beats] == [0, 0, 1, 0, 1, 1, 0, 0]
    assert [beat.event for beat in fresh.beats] == [None] + [beat.event for beat in BEATS]


@pytest.mark.parametrize(
    "headers",
    [FORMAT_HEADERS, FORMAT_HEADERS + (("cache-control", "no-cache"),)],
    ids=["format-without-cache-control", "format-with-cache-control"],
)
def test_cache_control_no_cache_is_sent_exactly_once(headers):
    result = eventsource.numbered(Script(200, headers, BEATS), retry=1.0)
    names = [name.lower() for name, _ in result.headers]
    assert names.count("cache-control") == 1
    assert ("content-type", "text/event-stream; charset=utf-8") in [(n.lower(), v) for n, v in result.headers]


# -- numbered: resuming after Last-Event-ID ------------------------------------


def test_resume_starts_right_after_the_last_event_id_and_keeps_the_gaps():
    # Event 2 (ONE, at 0.3) was the last delivered: everything after it moves
    # 0.3 earlier, so the comment comes 0.05 after the reconnect, TWO 0.1 after.
    resumed = numbered(last_event_id=2)
    assert resumed.beats == (
        Beat(0.0, b"retry: 1000\n\n"),
        PING._replace(at=pytest.approx(0.05)),
        with_id(TWO, 3, at=pytest.approx(0.1)),
        with_id(THREE, 4, at=pytest.approx(0.2)),
        with_id(FINISH, 5, at=pytest.approx(0.3)),
        with_id(DONE, 6, at=pytest.approx(0.3)),
    )


def test_a_comment_before_the_last_delivered_event_is_not_sent_again():
    resumed = numbered(last_event_id=3)  # TWO, after the comment, was delivered
    assert [beat.data.split(b"\n")[0] for beat in resumed.beats] == [
        b"retry: 1000", b"id: 4", b"id: 5", b"id: 6"
    ]


def test_resume_after_event_zero_is_the_whole_stream():
    assert numbered(last_event_id=0) == numbered()


def test_the_end_moves_with_the_resumed_beats():
    resumed = numbered(last_event_id=2, end=End.RESET, end_at=0.7)
    assert resumed.end is End.RESET
    assert resumed.end_at == pytest.approx(0.4)


def test_resume_keeps_status_and_adds_headers_like_a_fresh_stream():
    resumed = numbered(last_event_id=4)
    assert (resumed.status, resumed.streaming) == (200, True)
    assert resumed.headers == numbered().headers


@pytest.mark.parametrize("last", [EVENTS, EVENTS + 1, 10**9], ids=["last-id", "one-past", "far-past"])
def test_resuming_at_or_past_the_last_event_is_finished(last):
    assert numbered(last_event_id=last) == eventsource.finished(script())


def test_resuming_one_before_the_last_event_sends_only_that_event():
    resumed = numbered(last_event_id=EVENTS - 1)
    assert resumed.status == 200
    assert resumed.body == b"retry: 1000\n\nid: 6\ndata: [DONE]\n\n"


# -- finished ------------------------------------------------------------------


def test_finished_is_a_204_with_no_body_that_is_not_a_stream():
    done = eventsource.finished(script(end=End.RESET, end_at=0.7, headers_at=0.2))
    assert (done.status, done.beats, done.body, done.streaming) == (204, (), b"", False)
    assert (done.end, done.end_at, done.headers_at) == (End.EOF, None, 0.0)
    assert done.headers == (("Cache-Control", "no-cache"),)  # no event-stream type on a 204


# -- last_event_id ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5),
        ("0", 0),
        (" 7 ", 7),
        ("007", 7),
        ("12345", 12345),
        (None, None),
        ("", None),
        ("   ", None),
        ("abc", None),
        ("-1", None),
        ("+3", None),
        ("1.5", None),
        ("3a", None),
        ("1-2", None),  # what Chromium echoes for another server's ids
        ("\u00b2", None),  # superscript two: str.isdigit says yes, int says no
        ("\u0663", None),  # Arabic-Indic three: a digit, but not an ASCII one
        ("9" * 5000, sys.maxsize),  # longer than int() converts: past any reply's end
        ("0" * 30 + "8", 8),
    ],
    ids=[
        "five", "zero", "spaces", "leading-zeros", "large", "none", "empty", "blank", "word", "negative",
        "plus", "decimal", "trailing-letter", "chromium-pair", "superscript", "arabic-indic", "huge",
        "long-zero-padding",
    ],
)
def test_last_event_id_counts_only_plain_ascii_numbers(header, expected):
    assert eventsource.last_event_id(header) == expected


def test_a_huge_last_event_id_finishes_any_stream():
    assert numbered(last_event_id=eventsource.last_event_id("9" * 5000)).status == 204


# -- with a compiled reply --------------------------------------------------------


def test_a_compiled_content_reply_is_numbered_from_its_first_token():
    scenario = Scenario("s", Reply(tokens=("Hi", " there")), timing=Timing(first_token=0.2, per_token=0.1))
    compiled = compile(scenario, Ask(model="s", stream=True), content, rng=random.Random(1)).materialized()
    assert eventsource.numbered(compiled, retry=0.25).body == (
        b"retry: 250\n\n"
        b'id: 1\ndata: {"content":"Hi"}\n\n'
        b'id: 2\ndata: {"content":" there"}\n\n'
        b"id: 3\ndata: [DONE]\n\n"  # the finish and usage events have no frame, so no id
    )
    resumed = eventsource.numbered(compiled, retry=0.25, last_event_id=1)
    assert [round(beat.at, 6) for beat in resumed.beats] == [0.0, 0.1, 0.2]
    assert resumed.body == b'retry: 250\n\nid: 2\ndata: {"content":" there"}\n\nid: 3\ndata: [DONE]\n\n'
    assert eventsource.numbered(compiled, retry=0.25, last_event_id=3).status == 204


# -- every stream ends: resumed scripts, error ids, settled -------------------------

PLAIN = Scenario("s", Reply(tokens=("a", " b", " c", " d")), timing=Timing(first_token=0.2, per_token=0.1))


def numbered_plain(last_event_id=None) -> Script:
    compiled = compile(PLAIN, Ask(model="s", stream=True), content, rng=random.Random(1))
    return eventsource.numbered(compiled, retry=1.0, last_event_id=last_event_id)


def faulted(base: Script, *specs: FaultSpec) -> Script:
    return faults.apply(base, specs, random.Random(2))


@pytest.mark.parametrize(("last", "resumed"), [(None, False), (0, False), (1, True), (4, True)],
                         ids=["fresh", "after-zero", "after-one", "before-done"])
def test_a_script_is_resumed_once_something_was_delivered(last, resumed):
    assert numbered_plain(last).resumed is resumed


def test_an_after_n_past_the_end_of_a_resumed_script_does_not_act():
    drop = FaultSpec(Drop(), Trigger(after=3))
    resumed = faulted(numbered_plain(2), drop)  # c, d and [DONE] left: two tokens
    assert (resumed.end, resumed.faults) == (End.EOF, ())
    assert resumed.body.endswith(b"id: 5\ndata: [DONE]\n\n")


def test_an_after_n_past_the_end_of_a_fresh_script_still_acts_after_the_last_token():
    fresh = faulted(numbered_plain(), FaultSpec(Drop(), Trigger(after=9)))
    assert (fresh.end, fresh.faults) == (End.RESET, ("drop(after=9)",))
    assert b"[DONE]" not in fresh.body and b'id: 4\ndata: {"content":" d"}' in fresh.body


@pytest.mark.parametrize(("last", "after"), [(None, 1), (2, 1), (None, 0)], ids=["fresh", "resumed", "at-once"])
def test_an_error_event_a_fault_adds_carries_the_replys_last_id(last, after):
    broken = faulted(numbered_plain(last), FaultSpec(ErrorEvent(message="boom"), Trigger(after=after)))
    *_, error = broken.beats
    assert error.data == b'id: 5\ndata: {"error":{"message":"boom","type":"server_error","code":null}}\n\n'
    assert eventsource.numbered(numbered_plain(), retry=1.0, last_event_id=5).status == 204


def test_settled_keeps_a_finished_resume_whatever_the_faults_made_of_it():
    nothing_left = numbered_plain(5)
    assert nothing_left.status == 204
    refused = faulted(nothing_left, FaultSpec(Status(code=429)))
    assert refused.status == 429  # what the faults alone would send
    assert eventsource.settled(refused, nothing_left) == nothing_left


def test_settled_passes_a_resume_with_something_left_as_the_faults_made_it():
    base = numbered_plain(2)
    cut = faulted(base, FaultSpec(Drop(), Trigger(after=1)))
    assert eventsource.settled(cut, base) == cut
