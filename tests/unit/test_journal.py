"""journal.py: the bounded log of exchanges, its records and what it keeps of a request body."""

from __future__ import annotations

import json

import pytest

from mockllm.journal import BODY_LIMIT, Entry, Journal, Outcome, Stall, request_summary


def record(journal: Journal, **fields) -> Entry:
    fields = {"time": 1.0, "method": "POST", "route": "/v1/chat/completions", "status": 200,
              "outcome": Outcome.COMPLETED, **fields}
    return journal.record(**fields)


# -- the ring buffer -------------------------------------------------------

def test_ids_start_at_one_and_increase_by_one():
    journal = Journal()
    assert [record(journal).id for _ in range(3)] == [1, 2, 3]
    assert [entry.id for entry in journal.entries()] == [1, 2, 3]


def test_a_full_journal_keeps_only_the_newest_entries_in_order():
    journal = Journal(size=3)
    for n in range(5):
        record(journal, tokens=n)
    entries = journal.entries()
    assert [entry.id for entry in entries] == [3, 4, 5]
    assert [entry.tokens for entry in entries] == [2, 3, 4]


def test_clear_empties_the_journal_but_ids_keep_increasing():
    journal = Journal()
    record(journal)
    record(journal)
    journal.clear()
    assert journal.entries() == []
    assert record(journal).id == 3  # an id is never reused, so a test can tell old entries from new


def test_entries_is_a_snapshot_not_a_live_view():
    journal = Journal()
    record(journal)
    snapshot = journal.entries()
    record(journal)
    assert len(snapshot) == 1
    assert len(journal.entries()) == 2


def test_entries_are_frozen():
    entry = record(Journal())
    with pytest.raises(AttributeError):
        entry.tokens = 5  # type: ignore[misc]


# -- to_json ---------------------------------------------------------------

def test_to_json_gives_plain_json_values_with_the_outcome_as_its_string():
    entry = record(
        Journal(),
        outcome=Outcome.DROPPED,
        scenario="flaky",
        session="s1",
        attempt=2,
        client_retry_count=1,
        request={"model": "flaky"},
        faults=("drop(after=3)",),
        ignored_faults=("no_done",),
        tokens=3,
        bytes=120,
        duration=0.25,
        client="OpenAI/Python 3.57.0",
        retry_headers=(("retry-after", "1"),),
        stall=Stall(0.5, None),
        received="Roses are",
        assistant_texts=("Roses are",),
    )
    data = entry.to_json()
    assert data == {
        "id": 1, "time": 1.0, "method": "POST", "route": "/v1/chat/completions", "status": 200,
        "outcome": "dropped", "scenario": "flaky", "session": "s1", "attempt": 2, "client_retry_count": 1,
        "request": {"model": "flaky"}, "faults": ["drop(after=3)"], "ignored_faults": ["no_done"],
        "tokens": 3, "bytes": 120, "duration": 0.25, "error": None,
        "client": "OpenAI/Python 3.57.0", "last_event_id": None, "retry_headers": {"retry-after": "1"},
        "event_retry": None, "last_id_sent": None, "stall": {"at": 0.5, "seconds": None}, "received": "Roses are",
        "assistant_texts": ["Roses are"], "upstream_status": None,
    }
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("outcome", list(Outcome), ids=[o.value for o in Outcome])
def test_every_outcome_serializes_to_its_documented_name(outcome):
    assert record(Journal(), outcome=outcome).to_json()["outcome"] == outcome.value
    assert outcome.value in ("completed", "dropped", "client_disconnected", "server_shutdown", "error")


# -- request_summary -------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"model": "m", "stream": true}', {"model": "m", "stream": True}),
        (b"[1, 2]", [1, 2]),
        (b"not json {", "not json {"),
        (b"", ""),
        (b'{"content": "caf\xe9"}', {"content": "caf\ufffd"}),  # readable, the bad byte marked
    ],
    ids=["json-object", "json-list", "not-json-kept-as-text", "empty", "bad-utf8-replaced"],
)
def test_request_summary_decodes_json_and_keeps_anything_else_as_text(raw, expected):
    assert request_summary(raw) == expected


def test_request_summary_keeps_a_body_of_exactly_the_limit_whole():
    body = json.dumps({"content": "x" * (BODY_LIMIT - len('{"content": ""}'))})
    assert len(body) == BODY_LIMIT
    assert request_summary(body.encode()) == json.loads(body)


def test_request_summary_truncates_a_body_past_the_limit_and_marks_the_cut():
    body = json.dumps({"content": "x" * BODY_LIMIT})
    summary = request_summary(body.encode())
    assert summary == body[:BODY_LIMIT] + "…"


def test_request_summary_counts_characters_not_bytes():
    body = '"' + "é" * (BODY_LIMIT - 2) + '"'  # two bytes each in UTF-8, so well past the limit in bytes
    assert len(body.encode()) > BODY_LIMIT
    assert request_summary(body.encode()) == "é" * (BODY_LIMIT - 2)
