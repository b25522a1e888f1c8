"""``--speed``, applied once when a response is planned (``Scenario.at_speed``):
every delay of the scenario divided, every rate multiplied, the transport's
own pace left alone, and the fault labels as the file writes them."""

from __future__ import annotations

import re

import pytest

from mockllm import pipeline
from mockllm.dialects import Ask
from mockllm.dialects.openai_chat import DIALECT as openai_chat
from mockllm.faults import FAULTS
from mockllm.faults.chaos import Chaos
from mockllm.parse import parse_text

TEXT = "name: s\nreply: {tokens: [a, b, c, d]}\ntiming: {first_token: 1, per_token: 0.5, retry: 2s}\n"
ASK = Ask(model="s", stream=True, include_obfuscation=False)


def plan(yaml_text: str, speed: float, **options):
    return pipeline.plan(parse_text(yaml_text, "t.yaml"), ASK, openai_chat, speed=speed, **options)


def body_times(script) -> list[float]:
    return [beat.at for beat in script.beats]


@pytest.mark.parametrize("speed", [4.0, 0.5])
@pytest.mark.parametrize(
    "faults",
    [
        "[{stall: {after: 2, for: 2s, heartbeat: 500ms}}]",
        "[{slow_headers: {delay: 3s}}]",
        "[{drop: {at: 1.2s}}]",
    ],
    ids=["stall", "slow_headers", "drop-at"],  # bandwidth: test_faults.py, its rate times the speed
)
def test_a_faulty_response_at_speed_is_the_same_bytes_at_times_divided_by_it(faults, speed):
    text = f"{TEXT}faults: {faults}\n"
    slow, fast = plan(text, 1.0), plan(text, speed)
    assert [beat.data for beat in fast.beats] == [beat.data for beat in slow.beats]
    assert body_times(fast) == pytest.approx([at / speed for at in body_times(slow)])
    assert fast.headers_at == pytest.approx(slow.headers_at / speed)


def test_labels_say_what_the_scenario_says_whatever_the_speed():
    text = f"{TEXT}faults: [{{stall: {{after: 2, for: 2s, heartbeat: 500ms}}}}, {{bandwidth: {{bytes_per_second: 400}}}}]\n"
    assert plan(text, 10.0).faults == plan(text, 1.0).faults == (
        "stall(after=2,for=2s,heartbeat=0.5s)", "bandwidth(bytes_per_second=400)",
    )


def test_fragment_keeps_its_interval_at_any_speed():
    # The pause between the writes of one event is the network's, not the model's.
    text = f"{TEXT}faults: [{{fragment: {{bytes: 4, interval: 10ms}}}}]\n"
    fast = plan(text, 100.0)
    first_event = [beat.at for beat in fast.beats if beat.at < 0.011]  # the opening chunk, in pieces at 0
    gaps = {round(b - a, 6) for a, b in zip(first_event, first_event[1:])}
    assert gaps == {0.01}


def test_a_stall_drawn_by_chaos_lasts_its_label_divided_by_the_speed():
    slow = plan(TEXT, 1.0, chaos=Chaos((("stall", 1.0),)))
    fast = plan(TEXT, 20.0, chaos=Chaos((("stall", 1.0),)))
    [label] = fast.faults
    assert slow.faults == fast.faults  # the same draw, as the user would read it
    seconds = float(re.search(r"for=([0-9.]+)s", label)[1])
    assert body_times(fast)[-1] == pytest.approx((body_times(plan(TEXT, 1.0))[-1] + seconds) / 20)


def test_every_duration_of_every_fault_is_divided_and_every_rate_multiplied():
    # Fields say how --speed treats them; a new duration field is scaled unless it says otherwise.
    for cls in FAULTS.values():
        for f in cls.__dataclass_fields__.values():
            kind, scale = f.metadata.get("kind"), f.metadata.get("speed")
            if kind == "duration":
                assert scale == ("divide" if (cls.name, f.name) != ("fragment", "interval") else None), (cls.name, f.name)
            else:
                assert scale == ("multiply" if (cls.name, f.name) == ("bandwidth", "bytes_per_second") else None)


def test_speed_one_plans_the_scenario_as_written():
    scenario = parse_text(f"{TEXT}faults: [{{stall: {{for: 2s}}}}]\n", "t.yaml")
    assert scenario.at_speed(1.0) is scenario
