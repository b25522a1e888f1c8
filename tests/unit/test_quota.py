"""The token buckets behind ``quota:``, stepped through with an explicit clock, and\nthe budget they leave as each provider's headers say it."""

from __future__ import annotations

import dataclasses

import pytest

from mockllm.dialects import DIALECTS
from mockllm.dialects.openai_chat import go_duration
from mockllm.quota import Allowance, Bucket, Budget, Quota, Quotas, client_of, parse_spec

RPM_2 = Quota(rpm=2)


def charges(quotas: Quotas, quota: Quota, times: list[float], cost: int = 1) -> list[str | None]:
    """What refused each request at each time (None: admitted)."""
    return [quotas.charge("s", "k", quota, cost, now).refused for now in times]


def test_a_bucket_refills_its_capacity_in_a_minute_continuously() -> None:
    empty = Bucket(capacity=60, level=0.0, at=0.0)
    assert empty.at_time(0.5).level == pytest.approx(0.5)
    assert empty.at_time(30).level == pytest.approx(30)
    assert empty.at_time(600).level == 60  # never past its capacity
    assert empty.wait(1) == pytest.approx(1.0)
    assert empty.until_full == pytest.approx(60)


def test_rpm_2_refuses_the_third_request_for_30_seconds_not_the_window() -> None:
    quotas = Quotas()
    first, second, third = (quotas.charge("s", "k", RPM_2, 5, 100.0) for _ in range(3))
    assert (first.refused, second.refused, third.refused) == (None, None, "requests")
    assert first.requests == Allowance(limit=2, remaining=1, reset=pytest.approx(30))
    assert second.requests == Allowance(limit=2, remaining=0, reset=pytest.approx(60))
    assert third.retry_after == pytest.approx(30)
    assert first.tokens is None  # no tpm: no token budget
    assert first.retry_after is None and second.retry_after is None  # admitted: no wait to tell


def test_a_refused_request_takes_nothing_and_the_wait_counts_down() -> None:
    quotas = Quotas()
    assert charges(quotas, RPM_2, [0, 0, 0]) == [None, None, "requests"]
    assert quotas.charge("s", "k", RPM_2, 1, 10).retry_after == pytest.approx(20)
    assert charges(quotas, RPM_2, [30, 30]) == [None, "requests"]  # waited exactly as told: admitted


def test_tpm_counts_the_whole_cost_and_a_request_larger_than_the_limit_never_fits() -> None:
    quotas = Quotas()
    quota = Quota(tpm=100)
    admitted = quotas.charge("s", "k", quota, 70, 0)
    assert admitted.tokens == Allowance(limit=100, remaining=30, reset=pytest.approx(42))
    refused = quotas.charge("s", "k", quota, 40, 0)
    assert (refused.refused, refused.retry_after) == ("tokens", pytest.approx(6))  # 10 more tokens at 100/min
    too_large = quotas.charge("s", "k", quota, 101, 600)
    assert (too_large.refused, too_large.retry_after, too_large.requested) == ("tokens", None, 101)


def test_the_longer_wait_of_two_limits_is_the_one_told() -> None:
    quotas = Quotas()
    quota = Quota(rpm=60, tpm=60)
    quotas.charge("s", "k", quota, 60, 0)
    refused = quotas.charge("s", "k", quota, 30, 0)  # requests: 1 s away; tokens: 30 s away
    assert (refused.refused, refused.retry_after) == ("tokens", pytest.approx(30))


@pytest.mark.parametrize("speed", [1, 10, 100], ids=["speed-1", "speed-10", "speed-100"])
def test_speed_divides_every_time_and_keeps_the_sequence(speed: float) -> None:
    quotas = Quotas(speed=speed)
    times = [t / speed for t in (0, 0, 0, 15, 29, 31, 31, 61, 91)]
    assert charges(quotas, RPM_2, times) == [
        None, None, "requests", "requests", "requests", None, "requests", None, None,
    ]
    last = quotas.charge("s", "k", RPM_2, 1, 91 / speed)
    assert last.retry_after == pytest.approx(29 / speed)  # 1/30 of a token left over from 31 s


def test_clients_scenarios_and_changed_quotas_have_buckets_of_their_own() -> None:
    quotas = Quotas()
    quotas.charge("s", "alice", Quota(rpm=1), 1, 0)
    assert quotas.charge("s", "alice", Quota(rpm=1), 1, 0).refused == "requests"
    assert quotas.charge("s", "bob", Quota(rpm=1), 1, 0).refused is None
    assert quotas.charge("other", "alice", Quota(rpm=1), 1, 0).refused is None
    assert quotas.charge("s", "alice", Quota(rpm=5), 1, 0).refused is None
    quotas.reset()
    assert quotas.charge("s", "alice", Quota(rpm=1), 1, 0).refused is None


def test_the_least_recently_used_client_is_forgotten_past_the_bound() -> None:
    quotas = Quotas(limit=2)
    for client in ("a", "b", "c"):
        quotas.charge("s", client, Quota(rpm=1), 1, 0)
    assert quotas.charge("s", "c", Quota(rpm=1), 1, 0).refused == "requests"
    assert quotas.charge("s", "a", Quota(rpm=1), 1, 0).refused is None  # forgotten: full again


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Authorization": "Bearer sk-one"}, "sk-one"),
    ({"x-api-key": "sk-ant-two"}, "sk-ant-two"),
    ({"x-goog-api-key": "AIza-three"}, "AIza-three"),
    ({}, ""),
], ids=["openai", "anthropic", "gemini", "none"])
def test_a_client_is_its_api_key_by_default(headers: dict[str, str], expected: str) -> None:
    assert client_of(Quota(rpm=1), "session-1", headers) == expected


def test_per_session_the_client_is_the_session() -> None:
    assert client_of(Quota(rpm=1, per="session"), "session-1", {"x-api-key": "k"}) == "session-1"


@pytest.mark.parametrize(("spec", "quota"), [
    ("rpm=60,tpm=40000", Quota(rpm=60, tpm=40000)),
    ("tpm=10, per=session", Quota(tpm=10, per="session")),
    ("rpm=1", Quota(rpm=1)),
], ids=["both", "tpm-per-session", "rpm"])
def test_a_spec_reads_as_a_quota(spec: str, quota: Quota) -> None:
    assert parse_spec(spec) == quota


@pytest.mark.parametrize(("spec", "problem"), [
    ("", "a quota needs rpm, tpm or both"),
    ("per=session", "a quota needs rpm, tpm or both"),
    ("rpm=0", "rpm: expected a whole number of at least 1, got 0"),
    ("rpm=1.5", "rpm: expected a whole number of at least 1, got '1.5'"),
    ("tpm=-3", "tpm: expected a whole number of at least 1, got '-3'"),
    ("rpm=1,per=user", "per: expected one of api_key, session, got 'user'"),
    ("rpn=1", "expected rpm=N, tpm=N or per=api_key|session, got 'rpn=1'"),
], ids=["empty", "no-limit", "zero", "fraction", "negative", "unknown-per", "misspelt"])
def test_a_bad_spec_says_what_is_wrong(spec: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_spec(spec)
    assert str(caught.value) == problem


# -- as each provider's headers say it ---------------------------------------

BUDGET = Budget(Allowance(limit=2, remaining=0, reset=60.0), Allowance(limit=1000, remaining=960, reset=2.4),
                refused="requests", retry_after=29.9995, requested=40)
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(("seconds", "written"), [
    (0, "0s"), (0.0001, "1ms"), (0.059, "59ms"), (0.12, "120ms"), (1, "1s"), (8.64, "8.64s"),
    (59.9995, "1m0s"), (360, "6m0s"), (3723.5, "1h2m3.5s"),
], ids=["zero", "under-a-millisecond", "59ms", "120ms", "1s", "fraction", "rounds-up", "6m0s", "hours"])
def test_openai_writes_a_reset_as_a_go_duration(seconds: float, written: str) -> None:
    assert go_duration(seconds) == written


def test_openai_formats_render_the_budget_in_the_apis_order_with_retry_after_ms() -> None:
    assert DIALECTS["openai"].rate_limit_headers(BUDGET, NOW) == (
        ("x-ratelimit-limit-requests", "2"), ("x-ratelimit-limit-tokens", "1000"),
        ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-remaining-tokens", "960"),
        ("x-ratelimit-reset-requests", "1m0s"), ("x-ratelimit-reset-tokens", "2.4s"),
        ("retry-after-ms", "30000"),
    )
    assert all(DIALECTS[name].rate_limit_headers(BUDGET, NOW) == DIALECTS["openai"].rate_limit_headers(BUDGET, NOW)
               for name in ("completions", "responses", "embeddings", "content"))


def test_anthropic_renders_the_budget_with_rfc_3339_resets() -> None:
    admitted = dataclasses.replace(BUDGET, tokens=None, refused=None, retry_after=None)
    assert DIALECTS["anthropic"].rate_limit_headers(admitted, NOW) == (
        ("anthropic-ratelimit-requests-limit", "2"), ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", "2026-01-01T00:01:00Z"),
    )


@pytest.mark.parametrize("name", ["gemini", "ollama"])
def test_gemini_and_ollama_send_no_budget_headers(name: str) -> None:
    assert DIALECTS[name].rate_limit_headers(BUDGET, NOW) == ()
