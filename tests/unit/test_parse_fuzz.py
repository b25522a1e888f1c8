"""Every built-in scenario, mutated at random (seeded, so every run is the
same), and the hostile cases: ``parse_text`` returns a Scenario or raises
``ScenarioErrors`` whose every problem has a line and a message. Never any
other exception, never a hang. A Scenario it returns also compiles."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from mockllm import pipeline, yamlsource
from mockllm.dialects import Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.errors import ScenarioErrors
from mockllm.library import builtin_dir
from mockllm.parse import parse_text

from .test_hostile_scenarios import HOSTILE, laughs

SEED = 20261202
MUTANTS_PER_FILE = 12
CASE_BOUND = 10  # seconds for one case: generous; a hang is caught, not waited out

ODD = [
    "\ud800", "\udfff", "\ud83c\udf89", "\x00", "\x85", "\u2028", "\ufeff", "\u202e", "e\u0301",
    "\U0010ffff", "\t", "\r", "\x1b[31m", "'", '"', "\\", "{", "[", "&", "*", "!", "|", ">", "%", "@", "`", "#",
]
SCALARS = [
    "9" * 5000, "-" + "9" * 5000, "0x" + "f" * 6000, "0b" + "1" * 20000, "1" + ":59" * 3000, "1e99999",
    ".inf", "-.nan", "-1", "0", "null", "~", "yes", "2024-01-01", "!!binary aGk=", "!!set {a}",
    "!!python/object/apply:os.system [echo]", "!custom x", "!!timestamp 2001-12-14", "*undefined",
    "'a{99999999999}'", "'(a+)+$'", "'(?=x)'", "'\\\\1'", '"\\ud800"', '"\\0"', '"\\r\\nX: y"', "'" + "x" * 20_000 + "'",
    "[" * 3000 + "]" * 3000, "{a: " * 3000 + "1" + "}" * 3000, "&a [*a]", "99999", "bad name:", "40", "10ms",
]


class Hang(Exception):
    pass


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True) or ["\n"]
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        kind = rng.randrange(9)
        if kind == 0 and len(lines) > 1:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[i])
        elif kind == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3 and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(SCALARS)}\n"
        elif kind == 4:
            depth = rng.choice((50, 99, 100, 101, 300))
            indent = " " * (len(lines[i]) - len(lines[i].lstrip()))
            lines[i] = indent + rng.choice(("- ", "x: ")) + "[" * depth + "]" * depth + "\n"
        elif kind == 5:
            lines.append(laughs(rng.randint(2, 9)).replace("reply:", "x:", 1))
        elif kind == 6:
            at = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:at] + rng.choice(ODD) * rng.choice((1, 3, 300)) + lines[i][at:]
        elif kind == 7:
            noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            lines.insert(i, noise.decode("latin-1"))
        else:
            lines[i] = lines[i] * rng.choice((2, 50, 500))
    return "".join(lines)


def cases() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    # The hostile cases but the few large ones (their own test has them): PyYAML
    # takes seconds to read 300 KB, and this test is meant to take a few.
    found = [(name, text) for name, text, *_ in HOSTILE if len(text) < 100_000]
    for path in sorted(Path(builtin_dir()).glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        found.append((path.stem, text))
        found += [(f"{path.stem}-{n}", mutate(text, rng)) for n in range(MUTANTS_PER_FILE)]
    return found


def outcome(text: str) -> str:
    """'ok' or 'refused', having checked every problem is located."""
    try:
        scenario = parse_text(text, "fuzz.yaml", default_name="fuzz")
    except ScenarioErrors as exc:
        assert exc.problems, "ScenarioErrors with no problem"
        for problem in exc.problems:
            assert isinstance(problem.line, int) and problem.line >= 1, problem
            assert problem.message, problem
            str(problem).encode("utf-8")  # validate can print it
        return "refused"
    pipeline.plan(scenario, Ask(model="fuzz", prompt="hi", stream=True), openai_chat, created=1)
    return "ok"


def test_mutated_and_hostile_scenarios_are_parsed_or_refused_with_located_problems():
    def alarm(signum, frame):
        raise Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    seen = {"ok": 0, "refused": 0}
    try:
        for name, text in cases():
            began = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, CASE_BOUND)
            try:
                seen[outcome(text)] += 1
            except Hang:
                pytest.fail(f"{name}: no answer within {CASE_BOUND} s", pytrace=False)
            except Exception as exc:  # the point of the test: name the case, show the input
                shown = f"{name}: {type(exc).__name__}: {exc}"[:2000]
                pytest.fail(f"{shown}\n--- input (first 2000 chars) ---\n{text[:2000]}", pytrace=False)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            assert time.monotonic() - began < CASE_BOUND
    finally:
        signal.signal(signal.SIGALRM, previous)
    # The mutations reach both outcomes, so neither half of the check is idle.
    assert seen["ok"] > 50 and seen["refused"] > 300, seen



def parsed(text: str) -> object:
    """The scenario ``text`` gives, or the problems it is refused with."""
    try:
        return parse_text(text, "fuzz.yaml", default_name="fuzz")
    except ScenarioErrors as exc:
        return [str(problem) for problem in exc.problems]


def test_every_case_parses_the_same_with_libyaml_as_without(monkeypatch):
    """yamlsource parses with libyaml's C parser where PyYAML has it: no file
    may load, or fail, differently for it."""
    with_libyaml = [parsed(text) for _, text in cases()]
    monkeypatch.setattr(yamlsource, "_FastLoader", None)
    without = [parsed(text) for _, text in cases()]
    for (name, text), fast, pure in zip(cases(), with_libyaml, without, strict=True):
        assert fast == pure, f"{name}: {text[:300]!r}"
