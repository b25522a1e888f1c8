"""tokens.py: how text is cut into streamed pieces."""

from __future__ import annotations

import pytest

from mockllm import tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one two", ("one", " two")),
        ("one  two", ("one", "  two")),
        ("one two ", ("one", " two", " ")),
        ("one\ntwo\n", ("one", "\ntwo", "\n")),
        ("para\n\nnext", ("para", "\n\nnext")),
        ("  indented", ("  indented",)),
        ("Hello, world!", ("Hello,", " world!")),
        ("你好 世界", ("你好", " 世界")),
        ("", ()),
    ],
    ids=[
        "space-goes-with-next-word",
        "several-spaces-go-with-next-word",
        "trailing-space-is-its-own-token",
        "newlines-go-with-next-word-trailing-newline-alone",
        "blank-line-goes-with-next-paragraph",
        "leading-whitespace-joins-first-word",
        "punctuation-stays-on-its-word",
        "cjk-split-at-spaces-only",
        "empty-text-no-tokens",
    ],
)
def test_words_keeps_whitespace_with_the_following_token(text, expected):
    assert tokens.words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", ("a", "b", "c")),
        ("a b\n", ("a", " ", "b", "\n")),
        ("héllo", ("h", "é", "l", "l", "o")),
        ("👋🏽", ("👋", "🏽")),
        ("", ()),
    ],
    ids=["ascii", "whitespace-is-a-char", "accented", "emoji-by-code-point", "empty"],
)
def test_chars_yields_one_code_point_per_token(text, expected):
    assert tokens.chars(text) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Paris"}', ('{"', "city", '":', ' "', "Paris", '"}')),
        ("{}", ("{}",)),
        ('{"n": 42, "ok": true}', ('{"', "n", '":', " 42", ',', ' "', "ok", '":', " true", "}")),
        ('{"city":"北京"}', ('{"', "city", '":"', "北京", '"}')),
        ('{\n  "a": [1, 2]\n}', ("{", '\n  "', "a", '":', " [", "1", ",", " 2", "]", "\n}")),
    ],
    ids=["object-with-string", "empty-object", "number-and-bool", "non-ascii-value", "pretty-printed"],
)
def test_fragments_cut_json_arguments_through_its_tokens(arguments, expected):
    assert tokens.fragments(arguments) == expected


TRICKY = [
    "",
    " ",
    "    ",
    "\n\n",
    " \t\n ",
    "你好，世界。今天天气很好。",
    "👋🏽 hi 🇫🇷!",
    "def f(x):\n    if x:\n        return 1\n\n    return 2\n",
    '{"city": "Paris", "days": [1, 2]}',
    "trailing   ",
    "\u00a0non-breaking\u2003em-space",
]
TRICKY_IDS = [
    "empty",
    "one-space",
    "only-spaces",
    "two-newlines",
    "mixed-whitespace",
    "cjk",
    "emoji-and-flag",
    "indented-code",
    "json",
    "trailing-spaces",
    "unicode-spaces",
]


@pytest.mark.parametrize("split", [tokens.words, tokens.chars, tokens.fragments], ids=lambda f: f.__name__)
@pytest.mark.parametrize("text", TRICKY, ids=TRICKY_IDS)
def test_joining_the_pieces_gives_back_the_input_exactly(split, text):
    pieces = split(text)
    assert "".join(pieces) == text
    assert all(pieces), "no piece is empty"


@pytest.mark.parametrize("text", TRICKY, ids=TRICKY_IDS)
def test_words_only_the_last_token_may_be_pure_whitespace(text):
    pieces = tokens.words(text)
    assert all(not piece.isspace() for piece in pieces[:-1])


def test_tokenizers_table_offers_words_and_chars():
    assert tokens.TOKENIZERS == {"words": tokens.words, "chars": tokens.chars}
