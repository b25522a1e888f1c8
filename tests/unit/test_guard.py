"""The control plane's Origin and Host checks, and the allowances, as pure functions."""

from __future__ import annotations

import pytest

from mockllm import guard
from mockllm.guard import Guard


@pytest.mark.parametrize(
    ("bound", "host", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1:8000", True),
        ("127.0.0.1", "localhost:8000", True),
        ("127.0.0.1", "a.b.localhost", True),
        ("127.0.0.1", "[::1]:8000", True),
        ("127.0.0.1", "[::ffff:127.0.0.1]:8000", True),
        ("127.0.0.1", "localhost.:8000", True),
        ("127.0.0.1", "10.0.0.5:8000", False),
        ("127.0.0.1", "evil.example", False),
        ("127.0.0.1", "localhostevil.example", False),
        ("10.0.0.5", "10.0.0.5:8000", True),
        ("10.0.0.5", "10.0.0.6:8000", False),
        ("fd00::5", "[FD00::5]:8000", True),
        ("0.0.0.0", "mockllm:8000", True),
        ("::", "any.name.at.all", True),
    ],
    ids=["bound-ipv4", "localhost", "sub-localhost", "ipv6-loopback", "ipv4-mapped-loopback", "final-dot",
         "other-address", "foreign-name", "localhost-lookalike", "bound-address", "not-the-bound-address",
         "bound-ipv6-any-case", "ipv4-wildcard", "ipv6-wildcard"],
)
def test_the_host_check(bound, host, allowed):
    refusal = Guard(bound).refusal(host, None)
    assert (refusal is None) is allowed
    if not allowed:
        assert (refusal.status, refusal.code) == (403, "host_not_allowed")


@pytest.mark.parametrize(
    ("host", "origin", "allowed"),
    [
        ("127.0.0.1:8000", None, True),
        ("127.0.0.1:8000", "http://127.0.0.1:8000", True),
        ("127.0.0.1:8000", "https://127.0.0.1:8000", True),
        ("localhost", "http://localhost:80", True),
        ("127.0.0.1:8000", "http://localhost:8000", False),
        ("127.0.0.1:8000", "http://127.0.0.1:8001", False),
        ("127.0.0.1:8000", "null", False),
        ("127.0.0.1:8000", "", False),
        ("127.0.0.1:8000", "http://localhost:5173", True),
        ("127.0.0.1:8000", "HTTP://LOCALHOST:5173", True),
        (None, "http://127.0.0.1:8000", False),
    ],
    ids=["no-origin", "own", "own-behind-tls", "own-default-port", "other-name-same-port", "other-port", "null",
         "empty", "allowed", "allowed-any-case", "no-host-to-be-own-to"],
)
def test_the_origin_check(host, origin, allowed):
    checks = Guard(allow_origins=frozenset({"http://localhost:5173"}))
    refusal = checks.refusal(host, origin)
    assert (refusal is None) is allowed
    if not allowed:
        assert (refusal.status, refusal.code) == (403, "origin_not_allowed")


def test_only_an_allowed_origin_gets_a_cors_grant():
    checks = Guard(allow_origins=frozenset({"http://localhost:5173"}))
    assert checks.grants("http://localhost:5173")
    assert not checks.grants("http://127.0.0.1:8000")
    assert not checks.grants(None)


@pytest.mark.parametrize(
    ("text", "normal"),
    [("http://localhost:5173", "http://localhost:5173"), ("HTTPS://App.Example:443/", "https://app.example"),
     ("http://[::1]:5173", "http://[::1]:5173")],
    ids=["plain", "case-default-port-slash", "ipv6"],
)
def test_an_origin_is_normalized_as_browsers_send_it(text, normal):
    assert guard.origin(text) == normal


@pytest.mark.parametrize("text", ["*", "localhost:5173", "ftp://x", "http://x/app", "http://x?y", "http://u@x",
                                  "http://x:99999", "http://caf\u00e9.example", "http://a\udcff", "http://a b"],
                         ids=["star", "no-scheme", "ftp", "path", "query", "user", "bad-port", "not-punycode",
                              "not-utf8", "space"])
def test_a_bad_origin_is_a_value_error(text):
    with pytest.raises(ValueError, match="expected an origin such as http://localhost:5173"):
        guard.origin(text)


@pytest.mark.parametrize("text", ["mock:8000", "http://mock", "a b", "", "a/b"],
                         ids=["port", "url", "space", "empty", "slash"])
def test_a_bad_host_name_is_a_value_error(text):
    with pytest.raises(ValueError, match="expected a host name"):
        guard.host_name(text)


@pytest.mark.parametrize("token", ["s3cret", "s3crét", "a b"], ids=["ascii", "non-ascii", "inner-space"])
def test_a_printable_token_is_accepted(token):
    guard.check_token(token)


@pytest.mark.parametrize(
    ("token", "message"),
    [("tok\udcff", "not UTF-8"), ("tok\n", "control characters"), (" tok", "spaces at an end"),
     ("to\x00k", "control characters")],
    ids=["not-utf8", "newline", "leading-space", "nul"],
)
def test_a_token_that_cannot_travel_in_a_header_is_a_value_error(token, message):
    with pytest.raises(ValueError, match=message):
        guard.check_token(token)


def test_settings_refuse_a_token_that_is_not_utf8_before_any_server_starts():
    from mockllm.library import load_library
    from mockllm.state import Settings

    with pytest.raises(ValueError, match="the admin token is not UTF-8 text; it travels in an HTTP header"):
        Settings(load_library(), admin_token="tok\udcff")  # $'tok\xff' from the environment
