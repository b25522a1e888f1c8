"""parse.py, the fault part: each fault's YAML read against its dataclass
fields, the shared trigger and probability, and every problem as
``path:line: faults[i].name.key: message``."""

from __future__ import annotations

import pytest

from mockllm.errors import ScenarioErrors
from mockllm.faults import FAULTS, FaultSpec, Trigger
from mockllm.faults.body import Drop, DuplicateDone, ErrorEvent, Malformed, NoDone, NoFinish, Stall
from mockllm.faults.framing import Bandwidth, Bom, Coalesce, Fragment, LineEndings
from mockllm.faults.head import ContentType, SlowHeaders, Status
from mockllm.parse import parse_text
from mockllm.scenario import Attempt

PATH = "t.yaml"
HEAD = "name: t\nreply: {text: hi}\nfaults:\n"  # the first fault is on line 4


def parse_faults(entries: str) -> tuple[FaultSpec, ...]:
    return parse_text(HEAD + entries, PATH).faults


def problems(entries: str) -> list[str]:
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(HEAD + entries, PATH)
    return [str(p) for p in caught.value.problems]


# -- valid faults ----------------------------------------------------------------

NAMES = sorted(FAULTS)


@pytest.mark.parametrize("form", ["  - {name}\n", "  - {name}:\n", "  - {name}: {{}}\n", "  - {name}: null\n"],
                         ids=["bare-name", "name-with-nothing", "empty-mapping", "explicit-null"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_every_fault_parses_without_parameters_to_its_defaults(name, form):
    assert parse_faults(form.format(name=name)) == (FaultSpec(FAULTS[name]()),)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("drop: {after: 5, mode: close}", FaultSpec(Drop("close"), Trigger(after=5))),
        ("drop: {after: 0}", FaultSpec(Drop(), Trigger(after=0))),
        ("drop: {after: done}", FaultSpec(Drop(), Trigger(done=True))),
        ("drop: {at: 1.5s}", FaultSpec(Drop(), Trigger(at=1.5))),
        ("drop: {at: 0}", FaultSpec(Drop(), Trigger(at=0.0))),
        ("drop: {before: headers, mode: reset}", FaultSpec(Drop("reset"), Trigger(before_headers=True))),
        ("stall: {after: 3, for: 30s, heartbeat: 5s}", FaultSpec(Stall(30.0, 5.0), Trigger(after=3))),
        ("stall: {for: 250ms}", FaultSpec(Stall(0.25))),
        ("stall: {for: 2m, before: headers}", FaultSpec(Stall(120.0), Trigger(before_headers=True))),
        ("stall: {for: 2}", FaultSpec(Stall(2.0))),
        ("stall: {for: forever, heartbeat: 500ms}", FaultSpec(Stall(None, 0.5))),
        ("malformed: {after: 4, kind: truncated_json}", FaultSpec(Malformed("truncated_json"), Trigger(after=4))),
        ("malformed: {at: 1s, kind: no_data_prefix}", FaultSpec(Malformed("no_data_prefix"), Trigger(at=1.0))),
        (
            "error_event: {after: 5, type: overloaded_error, message: 'Überlastet', code: busy}",
            FaultSpec(ErrorEvent("overloaded_error", "Überlastet", "busy"), Trigger(after=5)),
        ),
        ("no_done: {probability: 0.3}", FaultSpec(NoDone(), None, 0.3)),
        ("no_finish: {probability: 0}", FaultSpec(NoFinish(), None, 0.0)),
        ("duplicate_done: {probability: 1}", FaultSpec(DuplicateDone(), None, 1.0)),
        ("fragment: {bytes: 3, interval: 10ms}", FaultSpec(Fragment(3, 0.01))),
        ("coalesce: {events: 4}", FaultSpec(Coalesce(4))),
        ("bandwidth: {bytes_per_second: 1}", FaultSpec(Bandwidth(1))),
        ("bom: {probability: 0.5}", FaultSpec(Bom(), None, 0.5)),
        ("line_endings: {style: cr}", FaultSpec(LineEndings("cr"))),
        ("slow_headers: {delay: 1.5}", FaultSpec(SlowHeaders(1.5))),
        (
            "content_type: {value: text/plain, body: oops, status: 502}",
            FaultSpec(ContentType("text/plain", "oops", 502)),
        ),
        (
            "status: {code: 503, message: busy, type: server_error, error_code: overloaded}",
            FaultSpec(Status(503, "busy", "server_error", "overloaded")),
        ),
        (
            "status: {code: 429, headers: {retry-after: 5, x-f: 1.50, x-gone: null, x-s: abc, x-q: '7'}}",
            FaultSpec(Status(429, headers=(
                ("retry-after", "5"), ("x-f", "1.50"), ("x-gone", None), ("x-s", "abc"), ("x-q", "7"),
            ))),
        ),
        ("drop: {after: 2, probability: 0.25}", FaultSpec(Drop(), Trigger(after=2), 0.25)),
    ],
    ids=[
        "drop", "after-0", "after-done", "at", "at-0", "before-headers",
        "stall", "stall-ms", "stall-minutes-before-headers", "stall-plain-number", "stall-forever",
        "malformed", "malformed-at", "error-event",
        "probability-fraction", "probability-0", "probability-1",
        "fragment", "coalesce", "bandwidth", "bom", "line-endings", "slow-headers", "content-type",
        "status", "status-headers-as-text-null-kept", "probability-with-trigger",
    ],
)
def test_fault_parameters_become_the_fault_and_its_trigger(written, expected):
    assert parse_faults(f"  - {written}\n") == (expected,)


def test_block_style_parameters_parse_the_same():
    block = "  - stall:\n      after: 3\n      for: 30s\n      heartbeat: 5s\n"
    assert parse_faults(block) == parse_faults("  - stall: {after: 3, for: 30s, heartbeat: 5s}\n")


def test_faults_keep_their_written_order():
    specs = parse_faults("  - status\n  - no_done\n  - drop: {after: 1}\n")
    assert [type(spec.fault) for spec in specs] == [Status, NoDone, Drop]


def test_attempts_each_have_their_faults_and_the_last_repeats():
    text = "name: t\nreply: {text: hi}\nattempts:\n  - faults: [{drop: {after: 5}}]\n  - faults: []\n"
    scenario = parse_text(text, PATH)
    drop = FaultSpec(Drop(), Trigger(after=5))
    assert scenario.attempts == (Attempt(faults=(drop,)), Attempt(faults=()))
    assert [scenario.faults_for(n) for n in (1, 2, 3, 10)] == [(drop,), (), (), ()]


def test_the_last_attempt_repeats_with_its_faults():
    text = "name: t\nreply: {text: hi}\nattempts:\n  - faults: []\n  - faults: [no_done]\n"
    scenario = parse_text(text, PATH)
    assert [scenario.faults_for(n) for n in (1, 2, 3, 7)] == [(), *[(FaultSpec(NoDone()),)] * 3]


def test_faults_and_attempts_together_are_refused_since_the_faults_would_never_apply():
    text = "name: t\nreply: {text: hi}\nfaults: [bom]\nattempts:\n  - faults: [no_done]\n"
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(text, PATH)
    assert [str(p) for p in caught.value.problems] == [
        f"{PATH}:5: attempts: give either 'faults' (every attempt) or 'attempts', not both"
    ]


def test_without_attempts_every_attempt_has_the_scenario_faults():
    scenario = parse_text("name: t\nreply: {text: hi}\nfaults: [bom]\n", PATH)
    assert scenario.faults_for(1) == scenario.faults_for(5) == (FaultSpec(Bom()),)


# -- problems --------------------------------------------------------------------

KNOWN = ", ".join(FAULTS)

ERRORS = [
    ("  - dorp: {after: 2}\n", "4: faults[0]: unknown fault 'dorp'; did you mean 'drop'?"),
    ("  - no_done\n  - explode\n", f"5: faults[1]: unknown fault 'explode' (expected one of: {KNOWN})"),
    ("  - drop: {mdoe: close}\n", "4: faults[0].drop: unknown key 'mdoe'; did you mean 'mode'?"),
    ("  - drop: {speed: 3}\n",
     "4: faults[0].drop: unknown key 'speed' (expected one of: mode, probability, after, at, before)"),
    ("  - drop: {mode: rst}\n", "4: faults[0].drop.mode: unknown value 'rst'; did you mean 'reset'?"),
    ("  - malformed: {kind: bad_utf}\n",
     "4: faults[0].malformed.kind: unknown value 'bad_utf'; did you mean 'bad_utf8'?"),
    ("  - line_endings: {style: unix}\n",
     "4: faults[0].line_endings.style: unknown value 'unix' (expected one of: crlf, cr)"),
    ("  - fragment: {bytes: 0}\n",
     "4: faults[0].fragment.bytes: expected a whole number of at least 1, got 0"),
    ("  - coalesce: {events: 1.5}\n", "4: faults[0].coalesce.events: expected a whole number, got '1.5'"),
    ("  - status: {code: 99}\n", "4: faults[0].status.code: expected an HTTP status from 200 to 599, got 99"),
    ("  - stall: {for: 5x}\n",
     "4: faults[0].stall.for: expected a duration like 250ms, 1.5s or 2m, got '5x'"),
    ("  - stall: {heartbeat: forever}\n",
     "4: faults[0].stall.heartbeat: expected a duration like 250ms, 1.5s or 2m, got 'forever'"),
    ("  - slow_headers: {delay: -1s}\n",
     "4: faults[0].slow_headers.delay: expected a duration like 250ms, 1.5s or 2m, got '-1s'"),
    ("  - drop:\n      after: 2\n      at: 1s\n", "6: faults[0].drop: give only one of after, at, before"),
    ("  - malformed: {before: headers}\n",
     "4: faults[0].malformed.before: 'before' does not apply to malformed (only to drop and stall)"),
    ("  - drop: {before: body}\n", "4: faults[0].drop.before: unknown value 'body' (expected one of: headers)"),
    ("  - fragment: {after: 2}\n",
     "4: faults[0].fragment.after: fragment acts on the whole response; it takes no 'after'"),
    ("  - status: {at: 1s}\n", "4: faults[0].status.at: status acts on the whole response; it takes no 'at'"),
    ("  - drop: {probability: 2}\n", "4: faults[0].drop.probability: expected a probability from 0 to 1, got '2'"),
    ("  - bom: {probability: often}\n",
     "4: faults[0].bom.probability: expected a probability from 0 to 1, got 'often'"),
    ("  - drop: {after: -1}\n", "4: faults[0].drop.after: expected a token count or 'done', got '-1'"),
    ("  - drop: {after: soon}\n", "4: faults[0].drop.after: expected a token count or 'done', got 'soon'"),
    ("  - drop: 5\n", "4: faults[0].drop: expected a mapping, got '5'"),
    ("  - stall: [1s]\n", "4: faults[0].stall: expected a mapping, got a list"),
    ("  - [drop]\n", "4: faults[0]: expected a fault name or {name: {...}}, got a list"),
    ("  - {drop: {}, bom: {}}\n", "4: faults[0]: expected a fault name or {name: {...}}, got a mapping"),
    ("  - 42\n", "4: faults[0]: expected a fault name or {name: {...}}, got '42'"),
    ("  - status: {headers: [retry-after]}\n",
     "4: faults[0].status.headers: expected a mapping of header names to values, got a list"),
    ("  - status: {headers: {retry-after: [1]}}\n",
     "4: faults[0].status.headers.retry-after: expected a header value, got a list"),
    ("  - error_event: {message: [a]}\n", "4: faults[0].error_event.message: expected a string, got a list"),
]
ERROR_IDS = [
    "unknown-fault-suggestion", "unknown-fault-list", "unknown-param-suggestion", "unknown-param-list",
    "bad-enum-suggestion", "bad-enum-suggestion-kind", "bad-enum-list",
    "count-below-minimum", "count-not-whole", "status-below-100",
    "bad-duration", "forever-only-for-for", "negative-duration",
    "two-triggers", "before-on-other-fault", "before-body", "trigger-on-untriggered-fault",
    "at-on-status", "probability-2", "probability-text", "negative-after", "after-text",
    "params-scalar", "params-list", "entry-list", "entry-two-names", "entry-number",
    "headers-list", "header-value-list", "text-param-list",
]


@pytest.mark.parametrize(("entries", "expected"), ERRORS, ids=ERROR_IDS)
def test_each_fault_problem_is_reported_with_line_and_keypath(entries, expected):
    assert problems(entries) == [f"{PATH}:{expected}"]


def test_fault_problems_in_attempts_name_the_attempt():
    text = "name: t\nreply: {text: hi}\nattempts:\n  - faults: []\n  - faults: [{drop: {mode: rst}}]\n"
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(text, PATH)
    assert [str(p) for p in caught.value.problems] == [
        f"{PATH}:5: attempts[1].faults[0].drop.mode: unknown value 'rst'; did you mean 'reset'?"
    ]


def test_every_problem_of_every_fault_is_reported_in_line_order():
    entries = (
        "  - drop: {mode: rst, after: -2}\n"
        "  - bom\n"
        "  - fragment: {bytes: 0, interval: soon}\n"
        "  - explode\n"
    )
    assert problems(entries) == [
        f"{PATH}:4: faults[0].drop.mode: unknown value 'rst'; did you mean 'reset'?",
        f"{PATH}:4: faults[0].drop.after: expected a token count or 'done', got '-2'",
        f"{PATH}:6: faults[2].fragment.bytes: expected a whole number of at least 1, got 0",
        f"{PATH}:6: faults[2].fragment.interval: expected a duration like 250ms, 1.5s or 2m, got 'soon'",
        f"{PATH}:7: faults[3]: unknown fault 'explode' (expected one of: {KNOWN})",
    ]
