"""parse.py, the ``quota:`` key: its limits and ``per``, and every problem as
``path:line: quota.key: message``."""

from __future__ import annotations

import pytest

from mockllm.errors import ScenarioErrors
from mockllm.parse import parse_text
from mockllm.quota import Quota

PATH = "t.yaml"
HEAD = "name: t\nreply: {text: hi}\n"  # the quota is on line 3


def problems(quota: str) -> list[str]:
    with pytest.raises(ScenarioErrors) as caught:
        parse_text(HEAD + quota, PATH)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(("written", "expected"), [
    ("quota: {rpm: 60, tpm: 40000, per: api_key}", Quota(rpm=60, tpm=40000)),
    ("quota: {rpm: 2}", Quota(rpm=2)),
    ("quota: {tpm: 100, per: session}", Quota(tpm=100, per="session")),
], ids=["both", "rpm-only", "tpm-per-session"])
def test_a_quota_reads_as_written_and_per_defaults_to_the_api_key(written: str, expected: Quota) -> None:
    assert parse_text(HEAD + written, PATH).quota == expected


def test_a_scenario_without_a_quota_has_none() -> None:
    assert parse_text(HEAD, PATH).quota is None


@pytest.mark.parametrize(("written", "problem"), [
    ("quota: {per: session}", "t.yaml:3: quota: needs 'rpm', 'tpm' or both"),
    ("quota: {rpm: 0}", "t.yaml:3: quota.rpm: expected a whole number of at least 1, got 0"),
    ("quota: {tpm: 1.5}", "t.yaml:3: quota.tpm: expected a whole number, got '1.5'"),
    ("quota: {rpm: 1, per: user}", "t.yaml:3: quota.per: unknown value 'user' (expected one of: api_key, session)"),
    ("quota: {rpm: 1, tmp: 5}", "t.yaml:3: quota: unknown key 'tmp'; did you mean 'tpm'?"),
    ("quota: 60", "t.yaml:3: quota: expected a mapping, got '60'"),
], ids=["no-limit", "zero", "fraction", "unknown-per", "misspelt-key", "not-a-mapping"])
def test_a_bad_quota_names_the_line_and_the_key(written: str, problem: str) -> None:
    assert problems(written) == [problem]


def test_every_problem_of_a_quota_is_reported_at_once() -> None:
    assert problems("quota:\n  rpm: -1\n  per: nobody\n") == [
        "t.yaml:4: quota.rpm: expected a whole number of at least 1, got -1",
        "t.yaml:5: quota.per: unknown value 'nobody' (expected one of: api_key, session)",
    ]
