"""verdicts.py: each verdict from journal entries alone, as pure functions."""

from __future__ import annotations

import email.utils
import itertools

import pytest

from mockllm.faults.body import HEARTBEAT
from mockllm.journal import Entry, Outcome, Stall
from mockllm.player import silence
from mockllm.script import Beat, End, Script
from mockllm.verdicts import CAPS, cap_for, chains, judge

OPENAI = "OpenAI/Python 3.57.0"
T0 = 1_000_000.0


class Session:
    """Entries of one session, written as a client's timeline."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._ids = itertools.count(1)

    def add(self, at: float, status: int | None = 200, *, body: object = "ask", method: str = "POST",
            route: str = "/v1/chat/completions", outcome: Outcome | None = None, **fields: object) -> Entry:
        if outcome is None:
            outcome = Outcome.COMPLETED if status is not None and status < 400 else Outcome.ERROR
        fields.setdefault("request", {"body": body})
        entry = Entry(id=next(self._ids), time=T0 + at, method=method, route=route, status=status,
                      outcome=outcome, session="s", **fields)  # type: ignore[arg-type]
        self.entries.append(entry)
        return entry

    def verdict(self, name: str, **limits: object) -> tuple[str, list[dict]]:
        judged = judge(self.entries, **limits)[name]  # type: ignore[arg-type]
        return judged.result, list(judged.evidence)


def reconnects(*last_ids: str | None) -> Session:
    """EventSource requests, each dropped after delivering ids up to n + 3, resuming from ``last_ids``."""
    s = Session()
    for n, last in enumerate(last_ids):
        query = {"session": "s", **({"lastEventId": last} if last else {})}
        s.add(n, 200, method="GET", route="/v1/stream/x", outcome=Outcome.DROPPED, last_id_sent=n + 3,
              last_event_id=last, request={"last_event_id": last, "query": query})
    return s


def asking(**headers: str) -> dict[str, object]:
    return {"retry_headers": tuple(headers.items())}


# -- retries and chains ------------------------------------------------------

def test_a_retry_repeats_a_failed_request_and_a_new_body_starts_a_new_chain():
    s = Session()
    s.add(0, 500)
    s.add(1, 200)  # the retry succeeds
    s.add(2, 200)  # the same body again, after a success: a new request, not a retry
    s.add(3, 500, body="other")
    assert [[e.id for e in chain] for chain in chains(s.entries)] == [[1, 2], [3], [4]]


def test_an_eventsource_reconnect_is_the_same_request_whatever_id_it_resumes_from():
    s = reconnects(None, "3")
    assert [[e.id for e in chain] for chain in chains(s.entries)] == [[1, 2]]


# -- honoured_retry_after ----------------------------------------------------

@pytest.mark.parametrize(
    ("headers", "asked"),
    [({"retry-after": "2"}, 2.0), ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
     ({"retry-after": email.utils.formatdate(T0 + 3, usegmt=True)}, 3.0)],
    ids=["seconds", "milliseconds-win", "http-date"],
)
def test_a_retry_after_the_asked_wait_passes_and_one_before_it_fails(headers, asked):
    s = Session()
    s.add(0, 429, **asking(**headers))
    s.add(asked + 0.05, 200)
    assert s.verdict("honoured_retry_after")[0] == "pass"
    s = Session()
    s.add(0, 429, **asking(**headers))
    s.add(asked / 2, 200)
    result, [evidence] = s.verdict("honoured_retry_after")
    assert result == "fail"
    assert evidence["entries"] == [1, 2] and evidence["asked"] == pytest.approx(asked, abs=0.01)
    assert evidence["cap"] is None  # no User-Agent: no cap


def test_a_wait_above_the_sdks_cap_is_not_held_against_it():
    s = Session()
    s.add(0, 429, **asking(**{"retry-after": "300"}))
    s.add(0.5, 200, client=OPENAI)
    result, [evidence] = s.verdict("honoured_retry_after")
    assert result == "n/a"
    assert evidence["cap"]["seconds"] == 120
    assert "above OpenAI/Python 3.57.0's 120 s cap, past which it does not retry" in evidence["note"]


@pytest.mark.parametrize(
    ("agent", "seconds"),
    [("OpenAI/Python 3.57.0", 120.0), ("AsyncOpenAI/Python 3.1.0", 120.0), ("OpenAI/Python 1.99.0", 60.0),
     ("Anthropic/Python 2.16.0", None), ("AsyncAnthropicBedrock/Python 2.1.0", None), ("OpenAI/JS 7.59.0", 60.0),
     ("Anthropic/JS 1.15.0", None)],
    ids=lambda v: str(v),
)
def test_each_sdk_has_the_cap_its_source_gives(agent, seconds):
    cap = cap_for(agent)
    assert cap is not None and cap.seconds == seconds and cap.source


def test_another_client_has_no_cap():
    assert cap_for("python-httpx/0.29.0") is None and cap_for(None) is None
    assert len(CAPS) == 4


# -- backed_off --------------------------------------------------------------

def test_unasked_waits_that_grow_by_half_each_time_have_backed_off():
    s = Session()
    for at in (0, 0.4, 1.1, 2.3):  # waits 0.4, 0.7, 1.2
        s.add(at, 500)
    assert s.verdict("backed_off")[0] == "pass"


def test_a_wait_that_does_not_grow_fails_and_says_the_wait_before():
    s = Session()
    for at in (0, 0.5, 1.0):  # waits 0.5, 0.5
        s.add(at, 500)
    result, evidence = s.verdict("backed_off")
    assert result == "fail"
    assert evidence[-1]["before"] == 0.5 and evidence[-1]["waited"] == 0.5


def test_a_retry_under_100_ms_has_not_backed_off_however_the_gaps_grow():
    s = Session()
    for at in (0, 0.01, 0.03, 0.07):  # waits 10, 20, 40 ms: doubling, but at once
        s.add(at, 500)
    result, evidence = s.verdict("backed_off")
    assert result == "fail" and all("under 100 ms" in e["note"] for e in evidence)


def test_the_wait_an_eventsource_stream_announced_counts_as_asked():
    s = Session()
    for at in (0, 1.0, 2.0):  # the same 1 s each time: what retry: 1000 asked
        s.add(at, 200, outcome=Outcome.DROPPED, event_retry=1.0)
    assert s.verdict("backed_off")[0] == "pass"


# -- bounded_retries ---------------------------------------------------------

def test_retries_past_the_limit_fail_and_the_limit_is_the_users():
    s = Session()
    for at in range(4):
        s.add(at, 500)
    result, [evidence] = s.verdict("bounded_retries", max_retries=2)
    assert result == "fail" and evidence["retries"] == 3 and evidence["limit"] == 2
    assert s.verdict("bounded_retries", max_retries=3)[0] == "pass"


def test_no_failure_leaves_nothing_to_bound():
    s = Session()
    s.add(0, 200)
    assert s.verdict("bounded_retries")[0] == "n/a"


# -- no_retry_on_non_retryable and obeyed_should_retry -----------------------

@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_non_retryable_status_retried_fails(status):
    s = Session()
    s.add(0, status)
    s.add(1, status)
    result, evidence = s.verdict("no_retry_on_non_retryable")
    assert result == "fail" and evidence[0]["entries"] == [1, 2]


def test_a_non_retryable_status_the_server_allowed_to_retry_is_not_judged():
    s = Session()
    s.add(0, 400, **asking(**{"x-should-retry": "true"}))
    s.add(1, 400, **asking(**{"x-should-retry": "true"}))
    assert s.verdict("no_retry_on_non_retryable")[0] == "n/a"


def test_x_should_retry_false_obeyed_passes_and_retried_fails():
    s = Session()
    s.add(0, 503, **asking(**{"x-should-retry": "false"}))
    assert s.verdict("obeyed_should_retry")[0] == "pass"
    s.add(1, 200)
    assert s.verdict("obeyed_should_retry")[0] == "fail"


# -- aborted_stall -----------------------------------------------------------

@pytest.mark.parametrize(
    ("outcome", "duration", "stall", "expected"),
    [(Outcome.CLIENT_DISCONNECTED, 1.5, Stall(0.5, None), "pass"),
     (Outcome.CLIENT_DISCONNECTED, 9.0, Stall(0.5, None), "fail"),
     (Outcome.CLIENT_DISCONNECTED, 0.2, Stall(0.5, None), "n/a"),
     (Outcome.COMPLETED, 3.0, Stall(0.5, 2.0), "n/a"),
     (Outcome.COMPLETED, 9.0, Stall(0.5, 8.0), "fail")],
    ids=["left-in-time", "left-late", "left-before-it", "short-stall-waited-out", "long-stall-waited-out"],
)
def test_a_stall_is_judged_by_when_the_client_left_it(outcome, duration, stall, expected):
    s = Session()
    s.add(0, 200, outcome=outcome, duration=duration, stall=stall)
    result, [evidence] = s.verdict("aborted_stall", stall_deadline=5.0)
    assert result == expected
    assert evidence["stall_at"] == stall.at and evidence["deadline"] == 5.0


# -- resumed_with_last_event_id ----------------------------------------------

def test_a_reconnect_with_last_event_id_passes_and_one_without_fails():
    assert reconnects(None, "3").verdict("resumed_with_last_event_id")[0] == "pass"
    result, [evidence] = reconnects(None, None).verdict("resumed_with_last_event_id")
    assert result == "fail" and evidence["delivered"] == 3 and evidence["sent"] is None


# -- noticed_truncation ------------------------------------------------------

def test_partial_text_sent_back_as_a_finished_turn_fails():
    s = Session()
    s.add(0, 200, outcome=Outcome.DROPPED, received="Roses are")
    s.add(1, 200, body="next", assistant_texts=("Roses are ",))
    result, [evidence] = s.verdict("noticed_truncation")
    assert result == "fail" and evidence["received"] == "Roses are"


def test_a_retry_of_the_cut_request_noticed_the_truncation():
    s = Session()
    s.add(0, 200, outcome=Outcome.DROPPED, received="Roses are")
    s.add(1, 200)
    assert s.verdict("noticed_truncation")[0] == "pass"


# -- the stall a journal entry records (player.silence) ------------------------

@pytest.mark.parametrize(
    ("script", "stall"),
    [(Script(200, (), (Beat(0.1, b"a"), Beat(0.2, b"b"), Beat(3.2, b"c"))), Stall(0.2, 3.0)),
     (Script(200, (), (Beat(0.1, b"a"), Beat(1.0, HEARTBEAT), Beat(2.1, b"b"))), Stall(0.1, 2.0)),
     (Script(200, (), (Beat(0.1, b"a"),), end=End.HANG), Stall(0.1, None)),
     (Script(200, (), (), respond=False, end=End.HANG), Stall(0.0, None)),
     (Script(200, (), (Beat(2.5, b"a"),), headers_at=2.0), Stall(0.0, 2.0))],
    ids=["gap-between-beats", "heartbeats-are-silence", "hang", "hang-before-headers", "slow-headers"],
)
def test_the_stall_is_the_longest_silence_of_the_script(script, stall):
    assert silence(script) == stall
