"""faults/live.py: a fault on a stream fed beat by beat means what it means on
the whole script (``faults.apply``), for every fault and every streaming format."""

from __future__ import annotations

import dataclasses
import random

import pytest

from mockllm import faults, pipeline
from mockllm.dialects import DIALECTS, Dialect
from mockllm.faults import FAULTS
from mockllm.faults.live import Ending, LiveFaults, acts_on_head
from mockllm.parse import parse_text
from mockllm.script import End, Script

REPLY = "name: r\nreply: {text: one two three four five six}\ntiming: {first_token: 0.5, per_token: 0.25}\n"
TOOLS = (
    "name: t\nreply: {text: Hi there you lovely people, tool_calls: [{name: f, id: call_1, arguments: '{\"a\": 1, \"b\": 2}'}]}\n"
    "timing: {first_token: 0.5, per_token: 0.25}\n"
)

# Faults as a scenario writes them, each with its trigger inside the reply.
SPECS = [
    "[drop]", "[{drop: {after: 3}}]", "[{drop: {after: 3, mode: close}}]", "[{drop: {at: 1s}}]",
    "[{stall: {after: 2}}]", "[{stall: {after: 2, for: 1s}}]", "[{stall: {after: 2, for: 1s, heartbeat: 0.3s}}]",
    "[{stall: {after: 2, heartbeat: 0.3s}}]", "[{stall: {after: done, for: 2s}}]",
    "[{malformed: {after: 2}}]", "[{malformed: {after: 4, kind: bad_utf8}}]", "[{malformed: {kind: no_data_prefix}}]",
    "[{error_event: {after: 3}}]", "[no_done]", "[no_finish]", "[duplicate_done]", "[bom]",
    "[{line_endings: {style: cr}}]", "[{coalesce: {events: 3}}]", "[{fragment: {bytes: 5}}]",
    "[{bandwidth: {bytes_per_second: 4000}}]",
    "[{status: {code: 429}}]", "[content_type]", "[{slow_headers: {delay: 2s}}]", "[{drop: {before: headers}}]",
    "[{stall: {before: headers, for: 1s}}]",
    # Faults together, in the order ORDER gives them.
    "[{stall: {after: 2, for: 1s}}, {drop: {after: 4}}]", "[{malformed: {after: 1}}, {fragment: {bytes: 9}}]",
    "[no_done, {coalesce: {events: 2}}, {line_endings: {style: crlf}}]",
    "[{stall: {after: 1, heartbeat: 0.2s}}, {line_endings: {style: cr}}]",
    "[{slow_headers: {delay: 1s}}, {drop: {after: 2}}, bom]",
    # Triggers past the end of the reply: they act right after its last content token.
    "[{drop: {after: 50}}]", "[{malformed: {after: 50}}]", "[{stall: {after: 50, for: 1s}}]",
    "[{error_event: {after: 50}}]", "[{drop: {after: 50}}, {coalesce: {events: 2}}]",
]
FORMATS = [d for d in DIALECTS.values() if d.streams]


def _compiled(text: str, dialect: Dialect) -> Script:
    scenario = parse_text(text, "t.yaml")
    example = dialect.example(scenario.name, "hi", stream=True)
    return pipeline.plan(scenario, dialect.parse(example.body, example.call), dialect, created=1)


def _live(clean: Script, specs, seed: int) -> Script:
    """``clean`` as the proxy would send it: its head through the head faults, its beats fed one by one."""
    live = LiveFaults(specs, dataclasses.replace(clean, beats=()), random.Random(seed))
    head = live.head(dataclasses.replace(clean, beats=()))
    if LiveFaults.answers(head):
        return head.labelled(live.labels, ())
    shift = head.headers_at - clean.headers_at
    sent = []
    for beat in clean.beats:
        sent += live.feed(beat._replace(at=beat.at + shift))
        if live.finished:
            break
    if not live.finished:
        sent += live.close()
    assert live.ending is not None
    return live.ending.of(dataclasses.replace(head, beats=tuple(sent))).labelled(live.labels, ())


def _sent(script: Script) -> tuple[object, ...]:
    return (script.status, script.headers, round(script.headers_at, 9), script.respond, script.streaming,
            script.end, script.end_at and round(script.end_at, 9), script.keepalive,
            tuple((round(b.at, 9), b.data) for b in script.beats), script.faults)


@pytest.mark.parametrize("written", SPECS)
@pytest.mark.parametrize("dialect", FORMATS, ids=[d.name for d in FORMATS])
def test_a_fault_on_a_stream_fed_beat_by_beat_sends_what_it_sends_on_the_whole_script(dialect, written):
    for reply in (REPLY, TOOLS):
        clean = _compiled(reply, dialect)
        specs = parse_text(f"{reply}faults: {written}\n", "t.yaml").faults
        offline = faults.apply(clean, specs, random.Random(7))
        live = _live(clean, specs, 7)
        if "error_event" in written and dialect.name == "responses":
            # The one difference: a live error frame cannot know the upstream's
            # sequence number, so it counts from 0.
            assert live.end == offline.end and len(live.beats) == len(offline.beats)
            continue
        assert _sent(live) == _sent(offline)


def test_every_fault_has_a_live_stage_or_acts_on_the_head():
    for cls in FAULTS.values():
        field_defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        spec = faults.FaultSpec(cls(**field_defaults))
        live = LiveFaults([spec], Script(200, (), ()), random.Random(0))
        assert acts_on_head(spec) or live.stages, cls.name


def test_a_trigger_the_stream_never_reaches_cuts_right_after_its_last_content():
    clean = _compiled(REPLY, DIALECTS["openai"])
    specs = parse_text(f"{REPLY}faults: [{{drop: {{after: 50}}}}]\n", "t.yaml").faults
    live = _live(clean, specs, 0)
    content = [i for i, beat in enumerate(clean.beats) if beat.tokens]
    assert [b.data for b in live.beats] == [b.data for b in clean.beats[: content[-1] + 1]]  # no finish, no [DONE]
    assert live.end is End.RESET and live.end_at == clean.beats[content[-1] + 1].at


def test_a_stream_with_no_faults_passes_every_beat_untouched():
    clean = _compiled(REPLY, DIALECTS["anthropic"])
    live = LiveFaults([], dataclasses.replace(clean, beats=()), random.Random(0))
    sent = [out for beat in clean.beats for out in live.feed(beat)] + live.close()
    assert sent == list(clean.beats) and live.ending == Ending()
