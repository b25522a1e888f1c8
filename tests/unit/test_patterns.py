"""patterns.py: ``match.prompt`` compiled by RE2, searched like ``re.search``,
and every refusal said in words."""

from __future__ import annotations

import pytest

from mockllm.patterns import PatternError, compile_pattern


@pytest.mark.parametrize(
    ("pattern", "prompt", "found"),
    [
        ("(?i)weather", "How is the WEATHER today?", True),
        ("weather", "How is the WEATHER today?", False),
        (r"^\d{3}-\d{4}$", "555-1234", True),
        (r"^\d{3}-\d{4}$", "call 555-1234", False),
        (r"\bParis\b", "in Paris, today", True),
        (r"\p{Han}+", "東京", True),
        ("(a+)+$", "a" * 100_000 + "!", False),
        ("time", "party \ud83c time", True),  # a lone surrogate in the prompt
        ("x{1000}", "x" * 1000, True),
    ],
    ids=["inline-flag", "case-sensitive", "anchored", "anchored-not-at-start", "word-boundary",
         "unicode-class", "catastrophic-for-backtracking", "lone-surrogate-prompt", "largest-count"],
)
def test_a_pattern_is_searched_anywhere_in_the_prompt(pattern, prompt, found):
    assert compile_pattern(pattern).search(prompt) is found


def test_patterns_of_the_same_text_are_equal():
    assert compile_pattern("(?i)a") == compile_pattern("(?i)a") != compile_pattern("a")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a(?=b)", "RE2, a linear-time engine, does not support lookahead (?=...); see https://github.com/google/re2/wiki/Syntax"),
        ("(?<!a)b", "RE2, a linear-time engine, does not support negative lookbehind (?<!...); see"),
        (r"(a)\1", "RE2, a linear-time engine, does not support backreferences \\1; see"),
        ("(?P<x>a)(?P=x)", "RE2, a linear-time engine, does not support named backreferences (?P=name)"),
        ("(?x) a b", "RE2, a linear-time engine, does not support verbose mode (?x)"),
        ("a++", "RE2, a linear-time engine, does not support possessive repeats ++"),
        ("a{99999999999}", "repeats 99999999999 times; RE2 allows at most 1000"),
        ("a{2,1001}", "repeats 1001 times; RE2 allows at most 1000"),
        ("(a{100}){100}", "repeats 100 times; RE2 allows at most 1000 (nested repeats multiply)"),
        ("a{1000}{1000}", "invalid regular expression: bad repetition operator: {1000}{1000}; see"),
        ("[\\p{L}\\p{N}]{1000}", "too large for RE2 to compile in 8 MiB (a limit of mockllm)"),
        ("(unclosed", "invalid regular expression: missing ): (unclosed; see"),
    ],
    ids=["lookahead", "lookbehind", "backreference", "named-backreference", "verbose", "possessive",
         "count-overflowing-python", "count-over-1000", "nested-counts", "repeated-repeat", "too-large", "syntax"],
)
def test_a_pattern_re2_cannot_run_is_refused_saying_why(pattern, message):
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert str(caught.value).startswith(message)


def test_an_escaped_brace_is_text_not_a_count():
    assert compile_pattern(r"\{99999999999}").search("{99999999999}")
