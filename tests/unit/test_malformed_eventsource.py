"""``malformed`` on the EventSource route, where every event starts ``id: N``.

The id line is kept exactly and only the ``data:`` line is broken, as it is
on a fetch stream: the browser still learns the event's id (so a reconnect
resumes after it) and gets data it cannot parse.
"""

from __future__ import annotations

import json
import random

import pytest

from mockllm import events, eventsource, faults, script
from mockllm.dialects import Ask
from mockllm.dialects.base import SSE
from mockllm.dialects.content import DIALECT as content
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.faults.body import _broken
from mockllm.parse import parse_text
from mockllm.script import Script


def _break(data, kind):
    return _broken(data, kind, events.Text("b"), SSE)


PLAIN = "name: plain\nreply: {tokens: [a, b, c]}\ntiming: {first_token: 1, per_token: 0.25}\n"
KINDS = ("invalid_json", "truncated_json", "bad_utf8", "no_data_prefix", "wrong_schema")
GOOD = b'data: {"content":"b"}\n\n'


def numbered_run(fault_list: str, dialect=content) -> tuple[Script, Script]:
    """The numbered script (as the EventSource route sends it) before and after the faults."""
    scenario = parse_text(f"{PLAIN}faults: {fault_list}\n", "t.yaml")
    compiled = script.compile(scenario, Ask(model="m", stream=True), dialect, rng=random.Random(0), created=1)
    compiled = compiled.materialized()
    base = eventsource.numbered(compiled, retry=1.0)
    return base, faults.apply(base, scenario.faults, random.Random(0))


# -- _break: the id line is kept, the data line is broken -----------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_lines_before_the_data_line_are_kept_and_the_data_line_broken_as_without_them(kind):
    for head in (b"id: 7\n", b"id: 7\nevent: message\n"):
        assert _break(head + GOOD, kind) == head + _break(GOOD, kind)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("invalid_json", b'id: 2\ndata: {"content":"b",}\n\n'),
        ("truncated_json", b'id: 2\ndata: {"conte\n\n'),  # the first half of the payload
        ("bad_utf8", b'id: 2\ndata: {"content":"\xff\xfeb"}\n\n'),
        ("no_data_prefix", b'id: 2\n{"content":"b"}\n\n'),
        ("wrong_schema", b'id: 2\ndata: {"foo":"bar"}\n\n'),
    ],
    ids=list(KINDS),
)
def test_each_kind_breaks_only_the_data_line_of_a_numbered_event(kind, expected):
    assert _break(b"id: 2\n" + GOOD, kind) == expected


def test_no_data_prefix_strips_the_data_prefix_of_the_data_line_only():
    broken = _break(b"id: 2\n" + GOOD, "no_data_prefix")
    assert broken.startswith(b"id: 2\n")
    assert b"data:" not in broken


# -- on a numbered script ------------------------------------------------------------


@pytest.mark.parametrize("dialect", [content, openai_chat], ids=["content", "openai"])
@pytest.mark.parametrize("kind", KINDS)
def test_malformed_on_a_numbered_script_keeps_the_events_id(kind, dialect):
    base, broken = numbered_run(f"[{{malformed: {{after: 1, kind: {kind}}}}}]", dialect)
    changed = [i for i, (b, g) in enumerate(zip(broken.beats, base.beats)) if b.data != g.data]
    assert len(broken.beats) == len(base.beats)
    [index] = changed
    good, bad = base.beats[index], broken.beats[index]
    id_line = good.data[: good.data.index(b"\n") + 1]
    assert id_line.startswith(b"id: ")
    assert bad.data.startswith(id_line)
    assert bad.data.count(b"id: ") == 1
    assert bad.data == _break(good.data, kind)
    rest = bad.data[len(id_line) :]
    if kind == "no_data_prefix":
        assert rest == good.data[len(id_line) + len(b"data: ") :]
    elif kind == "wrong_schema":
        assert rest == b'data: {"foo":"bar"}\n\n'  # JSON, but neither a content frame nor a chunk
    else:
        assert rest.startswith(b"data: ") and rest.endswith(b"\n\n")
        with pytest.raises(ValueError):  # UnicodeDecodeError is a ValueError too
            json.loads(rest[len(b"data: ") : -2].decode("utf-8"))


def test_the_content_formats_second_token_keeps_id_2():
    base, broken = numbered_run("[{malformed: {after: 1}}]")
    assert base.body == (
        b"retry: 1000\n\n"
        b'id: 1\ndata: {"content":"a"}\n\n'
        b'id: 2\ndata: {"content":"b"}\n\n'
        b'id: 3\ndata: {"content":"c"}\n\n'
        b"id: 4\ndata: [DONE]\n\n"
    )
    assert broken.body == base.body.replace(b'id: 2\ndata: {"content":"b"}', b'id: 2\ndata: {"content":"b",}')
