"""The state-store contract (mockllm/stores): every store in the table gives
the same attempts, budgets, journal and scenario changes for the same calls.
The Redis store runs against a real redis-server."""

from __future__ import annotations

import time

import pytest

from mockllm import stores
from mockllm.journal import Outcome, Stall
from mockllm.parse import parse_text
from mockllm.quota import Quota
from mockllm.stores import Change, Charge
from mockllm.workers import LocalRedis

KINDS = sorted({opener.__name__.strip("_") for opener in stores.STORES.values()})


@pytest.fixture(params=KINDS)
async def store(request, redis_server):
    applied: list[Change] = []

    async def apply(change: Change) -> None:
        applied.append(change)

    url = "memory://" if request.param == "memory" else redis_server.url()
    opened = stores.open_store(url, journal_size=3)
    await opened.start(apply)
    opened.applied = applied
    yield opened
    await opened.close()


def test_every_scheme_opens_a_store_of_the_table():
    assert KINDS == ["memory", "redis"]


async def test_attempts_count_per_session_and_scenario_and_a_reset_forgets_them(store):
    seen = [(await store.admit(session, scenario, None)).attempt
            for session, scenario in [("a", "x"), ("a", "x"), ("b", "x"), ("a", "y"), ("a", "x")]]
    assert seen == [1, 2, 1, 1, 3]
    await store.reset()
    assert (await store.admit("a", "x", None)).attempt == 1


async def test_a_quota_admits_two_a_minute_then_refuses_without_counting_the_attempt(store):
    charge = Charge("limited", "sk-one", Quota(rpm=2, tpm=100), 10)
    admitted = [await store.admit("s", "limited", charge) for _ in range(3)]
    assert [a.attempt for a in admitted] == [1, 2, None]
    first, second, refused = (a.budget for a in admitted)
    assert (first.requests.remaining, second.requests.remaining, refused.requests.remaining) == (1, 0, 0)
    assert (first.tokens.remaining, second.tokens.remaining) == (90, 80)
    assert refused.refused == "requests" and 29 < refused.retry_after <= 30
    assert second.requests.reset == pytest.approx(60, abs=1)
    too_large = await store.admit("s", "limited", Charge("limited", "sk-two", Quota(tpm=100), 101))
    assert too_large.attempt is None and too_large.budget.refused == "tokens" and too_large.budget.retry_after is None
    other_client = await store.admit("s", "limited", Charge("limited", "sk-two", Quota(rpm=2, tpm=100), 10))
    assert other_client.attempt == 3 and other_client.budget.requests.remaining == 1


async def test_the_journal_keeps_the_newest_entries_whole(store):
    for n in range(4):
        store.record(dict(time=time.time(), method="POST", route="/v1/chat/completions", status=200,
                          outcome=Outcome.CLIENT_DISCONNECTED, session="s", scenario=f"n{n}", faults=("drop",),
                          retry_headers=(("retry-after", "1"),), stall=Stall(0.5, None), request={"model": "m"}))
    entries = await store.entries()
    assert [e.scenario for e in entries] == ["n1", "n2", "n3"]  # journal_size=3
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    newest = entries[-1]
    assert (newest.outcome, newest.faults, newest.retry_headers, newest.stall, newest.request) == (
        Outcome.CLIENT_DISCONNECTED, ("drop",), (("retry-after", "1"),), Stall(0.5, None), {"model": "m"})
    await store.reset()
    assert await store.entries() == []


async def test_a_change_is_applied_here_before_it_returns(store):
    text = "name: added\nreply: {text: Hi.}\n"
    await store.change(Change("added", text, parse_text(text, "<request>")))
    await store.change(Change("added", None))
    assert [(c.name, c.text) for c in store.applied] == [("added", text), ("added", None)]


async def test_a_store_in_reach_has_no_problem(store):
    assert await store.problem() is None


@pytest.mark.parametrize("url, problem", [
    ("memcached://127.0.0.1:11211", "expected redis://HOST:PORT/DB"),
    ("redis://127.0.0.1:6379/0?group=a b", "group: letters, digits"),
    ("unix:/tmp/redis.sock", "or unix:///PATH"),
], ids=["unknown scheme", "bad group", "no //"])
def test_a_state_url_that_cannot_work_is_refused_with_the_reason(url, problem):
    with pytest.raises(ValueError, match=problem):
        stores.check(url)


async def test_a_store_on_a_unix_socket_counts_attempts_there():
    """``unix:///PATH``, as ``--workers`` uses for its private redis-server:
    the URL reaches the client with its ``//``, which redis-py requires."""
    local = LocalRedis()
    try:
        opened = stores.open_store(local.url + "?group=unix")

        async def apply(change: Change) -> None:
            pass

        await opened.start(apply)
        try:
            assert [(await opened.admit("s", "x", None)).attempt for _ in range(2)] == [1, 2]
            assert await opened.problem() is None
        finally:
            await opened.close()
    finally:
        local.stop()
