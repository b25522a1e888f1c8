"""router.py: which scenario answers a request, first match wins."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from mockllm.dialects import Ask
from mockllm.errors import RequestError
from mockllm.library import Library
from mockllm.parse import parse_text
from mockllm.router import matches, select

POEM = "name: poem\nmatch: {prompt: '(?i)poem'}\nreply: {text: roses}\n"
WEATHER = "name: weather\nmatch: {prompt: '(?i)weather|poem'}\nreply: {text: sunny}\n"
FALLBACK = "name: fallback\nreply: {text: hello}\n"


def library(*texts: str, default: str | None = "fallback") -> Library:
    scenarios = [parse_text(text, "test.yaml") for text in texts]
    return Library(MappingProxyType({s.name: s for s in scenarios}), default)


LIBRARY = library(POEM, WEATHER, FALLBACK)


@pytest.mark.parametrize(
    ("ask", "requested", "chosen"),
    [
        (Ask(model="weather", prompt="a poem"), "fallback", "fallback"),
        (Ask(model="weather", prompt="a poem"), None, "weather"),
        (Ask(model="gpt-4o", prompt="Write a POEM"), None, "poem"),
        (Ask(model="gpt-4o", prompt="weather in Paris?"), None, "weather"),
        (Ask(model="gpt-4o", prompt="hi"), None, "fallback"),
        (Ask(model="poem", prompt=""), None, "poem"),
        (Ask(model="gpt-4o", prompt="hi"), "poem", "poem"),
    ],
    ids=[
        "header-beats-model-and-match",
        "model-beats-match",
        "match-rule",
        "second-match-rule",
        "default-when-nothing-matches",
        "model-name-without-matching-prompt",
        "header-alone",
    ],
)
def test_selection_rules_in_precedence_order(ask, requested, chosen):
    assert select(LIBRARY, ask, requested).name == chosen


def test_match_rules_are_tried_in_load_order():
    ask = Ask(model="gpt-4o", prompt="a poem about weather")  # both rules match
    assert select(library(POEM, WEATHER, FALLBACK), ask).name == "poem"
    assert select(library(WEATHER, POEM, FALLBACK), ask).name == "weather"


def test_match_rule_searches_the_prompt_not_the_model():
    assert select(LIBRARY, Ask(model="my-poem-model", prompt="hi")).name == "fallback"


def test_unknown_header_name_is_a_404_listing_the_names_even_if_model_matches():
    with pytest.raises(RequestError) as caught:
        select(LIBRARY, Ask(model="poem", prompt="poem"), "peom")
    error = caught.value
    assert error.status == 404
    assert error.code == "scenario_not_found"
    assert error.message == "No scenario named 'peom'. Known scenarios: poem, weather, fallback."


def test_nothing_selected_without_a_default_is_a_404_listing_the_names():
    with pytest.raises(RequestError) as caught:
        select(library(POEM, FALLBACK, default=None), Ask(model="gpt-4o", prompt="hi"))
    error = caught.value
    assert error.status == 404
    assert error.message == (
        "No scenario matches model 'gpt-4o' and no default scenario is set. Known scenarios: poem, fallback."
    )


def test_empty_library_404_says_none_are_known():
    with pytest.raises(RequestError) as caught:
        select(library(default=None), Ask(model="gpt-4o"))
    assert caught.value.status == 404
    assert caught.value.message.endswith("Known scenarios: none.")


def test_a_format_rule_holds_only_for_requests_in_that_format():
    scenario = parse_text("name: a\nmatch: {format: anthropic}\nreply: {text: hi}\n", "a.yaml")
    assert scenario.match is not None
    assert matches(scenario.match, Ask(model="m"), {}, "anthropic")
    assert not matches(scenario.match, Ask(model="m"), {}, "openai")
