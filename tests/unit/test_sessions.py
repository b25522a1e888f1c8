"""Attempt counters: per session and scenario, and bounded however many sessions clients name."""

from mockllm.sessions import Attempts


def test_attempts_count_per_session_and_scenario():
    attempts = Attempts()
    assert [attempts.next("a", "s"), attempts.next("a", "s"), attempts.next("b", "s"), attempts.next("a", "t")] == [
        1, 2, 1, 1,
    ]


def test_past_the_limit_the_pair_unused_longest_is_forgotten():
    attempts = Attempts(limit=2)
    attempts.next("old", "s")
    attempts.next("kept", "s")
    attempts.next("kept", "s")  # used again: now the newest
    attempts.next("new", "s")  # a third pair: "old" goes
    assert attempts.next("kept", "s") == 3
    assert attempts.next("old", "s") == 1
