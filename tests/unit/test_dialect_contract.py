"""The contract every format in the table keeps (``dialects.DIALECTS``).

Parametrized over the table, so a new format is checked the moment it has
its row: its requests parse, its routes are its own, and every fault of the
catalogue applies to its scripts without the fault knowing the format.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re

import pytest

from mockllm import events, faults, pipeline
from mockllm.dialects import DIALECTS, Dialect, dialect_for
from mockllm.errors import RequestError
from mockllm.faults import FAULTS, FaultSpec
from mockllm.library import load_library
from mockllm.script import Script

TABLE = list(DIALECTS.values())
IDS = [d.name for d in TABLE]
LIBRARY = load_library()
REPLIES = [LIBRARY.scenarios[name] for name in ("hello", "text-then-tool-call", "parallel-tool-calls")]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "m", path)


def test_the_table_is_keyed_by_each_formats_own_name():
    assert all(key == dialect.name and dialect.title for key, dialect in DIALECTS.items())


def test_no_two_formats_claim_the_same_route():
    # Two listings may share a path when one answers only the requests that send its header.
    claimed = [(r.method, r.path, None) for d in TABLE for r in d.routes]
    claimed += [("GET", x.path, x.header) for d in TABLE for x in d.listings]
    assert len(claimed) == len(set(claimed))
    assert len({(method, path) for method, path, header in claimed if header is None}) == len(
        [header for *_, header in claimed if header is None]
    )


@pytest.mark.parametrize("dialect", TABLE, ids=IDS)
def test_a_formats_own_routes_are_nearest_to_it(dialect: Dialect):
    for route in dialect.routes:
        assert dialect_for(_concrete(route.path)) is dialect, route.path


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "once"])
@pytest.mark.parametrize("dialect", TABLE, ids=IDS)
def test_its_example_request_parses_to_what_was_asked(dialect: Dialect, stream: bool):
    example = dialect.example("hello", "Say hi.", stream=stream)
    ask = dialect.parse(json.loads(json.dumps(example.body)), example.call)
    assert ask.prompt == "Say hi."
    if dialect.routes:  # a mount-only format (a front end's own route) takes no model and always streams
        assert (ask.model, ask.stream) == ("hello", stream and dialect.streams)


@pytest.mark.parametrize("dialect", TABLE, ids=IDS)
def test_a_reply_compiles_to_beats_that_carry_its_content(dialect: Dialect):
    for scenario in REPLIES:
        compiled = _compile(scenario, dialect, include_usage=True)
        assert compiled.beats, scenario.name
        tokens = sum(beat.tokens for beat in compiled.beats)
        assert tokens > 0 if dialect.streams else tokens == 0 or len(compiled.beats) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529])
@pytest.mark.parametrize("dialect", TABLE, ids=IDS)
def test_every_error_status_has_the_formats_error_and_body(dialect: Dialect, status: int):
    error = dialect.status_error(status)
    assert error.status == status and error.message
    body = dialect.error_body(error)
    json.loads(body)  # every format's error is a JSON object
    assert error.message.encode() in body or json.dumps(error.message).encode() in body


@pytest.mark.parametrize("dialect", TABLE, ids=IDS)
def test_the_status_fault_answers_in_the_formats_shape_with_its_headers(dialect: Dialect):
    clean = _compile(REPLIES[0], dialect)
    failed = _with(clean, "status", code=429)
    usual = dialect.status_error(429)
    head = {name.lower(): value for name, value in failed.headers}
    usual.request_id = head.get(dialect.request_id_header, "")  # the body may repeat the response's id
    assert failed.status == 429
    assert failed.body == dialect.error_body(usual)
    assert head["content-type"] == dialect.error_content_type
    assert all(head[name.lower()] == value for name, value in usual.headers.items())
    assert all(head.get(name) == value for name, value in clean.headers if name.lower() == dialect.request_id_header)


# Faults that remove or repeat one kind of event: no change where the format has no frame for it.
TARGETS = {"no_done": events.Done, "duplicate_done": events.Done, "no_finish": events.Finish}


@pytest.mark.parametrize("name", FAULTS, ids=list(FAULTS))
@pytest.mark.parametrize("dialect", [d for d in TABLE if d.streams], ids=[d.name for d in TABLE if d.streams])
def test_every_fault_applies_to_every_format_and_changes_what_is_sent(dialect: Dialect, name: str):
    for scenario in REPLIES:
        clean = _compile(scenario, dialect).materialized()
        failed = _with(clean, name)
        target = TARGETS.get(name)
        if target is not None and not any(isinstance(b.event, target) for b in clean.beats):
            assert _sent(failed) == _sent(clean)
            continue
        assert _sent(failed) != _sent(clean), f"{name} changed nothing in {dialect.name} ({scenario.name})"


def _compile(scenario, dialect: Dialect, *, include_usage: bool = False) -> Script:
    example = dialect.example(scenario.name, "hi", stream=True)
    ask = dialect.parse(example.body, example.call)
    if include_usage:
        ask = dataclasses.replace(ask, include_usage=True)
    return pipeline.plan(dataclasses.replace(scenario, timing=dataclasses.replace(scenario.timing, per_token=0.01)),
                         ask, dialect, created=1, framed=True)


def _with(script: Script, name: str, **params: object) -> Script:
    spec = FaultSpec(FAULTS[name](**params))
    return faults.apply(script, [spec], random.Random(0))


def _sent(script: Script) -> tuple[object, ...]:
    """Everything a client could observe of a script."""
    script = script.materialized()
    return (script.status, script.headers, script.headers_at, script.respond, script.end, script.end_at,
            script.keepalive, tuple((b.at, b.data) for b in script.beats))


def test_an_error_a_route_raises_renders_in_every_formats_shape():
    for dialect in TABLE:
        body = dialect.error_body(RequestError(400, "Bad things.", param="model"))
        assert b"Bad things." in body
