"""Seeded chaos: the spec, the scenario block, and reproducible draws."""

from __future__ import annotations

import pytest

from mockllm.dialects import Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.errors import ScenarioErrors
from mockllm.faults import FAULTS
from mockllm.faults.chaos import Chaos, parse_spec
from mockllm.parse import parse_text
from mockllm.pipeline import plan

SCENARIO = parse_text('name: c\nreply: {text: "one two three four five six seven eight"}\n', "c.yaml")
ASK = Ask(model="c", stream=True)


def labels(chaos: Chaos, seed: int, sessions: int = 40) -> list[tuple[str, ...]]:
    return [
        plan(SCENARIO, ASK, openai_chat, seed=seed, session=f"s{i}", chaos=chaos, created=1).faults
        for i in range(sessions)
    ]


def test_spec_lists_faults_with_their_probabilities():
    assert parse_spec("drop=0.1, stall=0.05,malformed=0.05,status=0.05", FAULTS) == Chaos(
        (("drop", 0.1), ("stall", 0.05), ("malformed", 0.05), ("status", 0.05))
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("drop", "expected NAME=PROBABILITY, got 'drop'"),
        ("dorp=0.1", "unknown fault 'dorp'"),
        ("drop=often", "drop: expected a probability from 0 to 1, got 'often'"),
        ("drop=1.5", "drop: expected a probability from 0 to 1, got '1.5'"),
    ],
    ids=["no-probability", "unknown-fault", "not-a-number", "above-one"],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        parse_spec(spec, FAULTS)


def test_the_same_seed_draws_the_same_faults_and_another_seed_differs():
    chaos = Chaos((("drop", 0.3), ("stall", 0.2), ("malformed", 0.2), ("status", 0.2)))
    first = labels(chaos, seed=7)
    assert first == labels(chaos, seed=7)
    assert first != labels(chaos, seed=8)
    assert any(first) and not all(first)  # at these odds some responses are hit, some are not


def test_probabilities_are_respected_at_the_extremes():
    assert not any(labels(Chaos((("drop", 0.0),)), seed=1))
    assert all(label[0].split("(")[0] == "drop" for label in labels(Chaos((("drop", 1.0),)), seed=1))


def test_drawn_faults_vary_their_parameters():
    drawn = {label for labels_ in labels(Chaos((("drop", 1.0), ("status", 1.0))), seed=3) for label in labels_}
    drops = [label for label in drawn if label.startswith("drop(")]
    assert any("mode=close" in label for label in drops)  # FIN
    assert any("mode=" not in label for label in drops)  # the default, RST
    assert len({label for label in drawn if label.startswith("status(")}) > 1


def test_chaos_does_not_change_the_bytes_of_responses_it_spares():
    spared = plan(SCENARIO, ASK, openai_chat, seed=5, session="x", chaos=Chaos((("drop", 0.0),)), created=1)
    plain = plan(SCENARIO, ASK, openai_chat, seed=5, session="x", created=1)
    assert spared.body == plain.body


def test_a_scenario_chaos_block_parses_and_is_checked():
    scenario = parse_text("name: c\nreply: {text: hi}\nchaos: {drop: 0.5, bom: 1}\n", "c.yaml")
    assert scenario.chaos == Chaos((("drop", 0.5), ("bom", 1)))
    with pytest.raises(ScenarioErrors) as caught:
        parse_text("name: c\nreply: {text: hi}\nchaos: {dorp: 0.5, stall: 2}\n", "c.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "c.yaml:3: chaos: unknown key 'dorp'; did you mean 'drop'?",
        "c.yaml:3: chaos.stall: expected a probability from 0 to 1, got '2'",
    ]
