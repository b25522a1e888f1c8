"""Two replicas on one real redis-server (``--state``), behind a round-robin
client, answer as one server would: "fail twice, then succeed", a quota and a
two-turn conversation stay exact, the journal and the verdicts see every
exchange, and a scenario added on one is served by the other. While Redis is
away they answer 503s in the format's shape; when it is back nothing is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal

import aiohttp
import httpx
import openai
import pytest

from mockllm import cli
from mockllm.dialects import DIALECTS
from mockllm.errors import RequestError
from mockllm.journal import Entry, Outcome

from ..redis_server import RedisServer
from .bursts import Observed, burst_client

MESSAGES = [{"role": "user", "content": "Hi"}]
FAILS = "{faults: [{status: {code: 503, headers: {retry-after-ms: 10}}}]}"  # an attempt that fails, retried soon


class RoundRobin(httpx.AsyncBaseTransport):
    """Each request to the next replica in turn, as a load balancer would send it."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = itertools.cycle(ports)
        self.sent: list[int] = []
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = next(self.ports)
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def replicas(start_server, write_scenario, redis_server):
    """``await replicas(**settings)``: two servers on the scenarios written so far, sharing one group of keys."""

    async def start(**settings):
        url = redis_server.url()
        return [await start_server([write_scenario.folder], state=url, **settings) for _ in range(2)]

    return start


def round_robin(servers, **options) -> tuple[openai.AsyncOpenAI, RoundRobin]:
    transport = RoundRobin([s.port for s in servers])
    client = openai.AsyncOpenAI(base_url=servers[0].base_url, api_key="sk-one",
                                http_client=httpx.AsyncClient(transport=transport), **options)
    return client, transport


async def test_fail_twice_then_succeed_holds_when_each_retry_lands_on_the_other_replica(replicas, write_scenario):
    write_scenario("flaky", f"reply: {{text: Got there.}}\nattempts:\n  - {FAILS}\n  - {FAILS}\n  - {{faults: []}}\n")
    servers = await replicas(speed=100)
    client, transport = round_robin(servers, max_retries=2)
    async with client:
        raw = await client.chat.completions.with_raw_response.create(model="flaky", messages=MESSAGES)
    assert raw.retries_taken == 2 and raw.headers["x-mockllm-attempt"] == "3"
    assert raw.parse().choices[0].message.content == "Got there."
    assert len(set(transport.sent)) == 2  # both replicas answered some of the three


async def test_a_quota_of_two_a_minute_refuses_the_third_request_whichever_replica_takes_it(replicas, write_scenario):
    write_scenario("limited", "reply: {text: Limited.}\nquota: {rpm: 2}\n")
    servers = await replicas()
    client, transport = round_robin(servers, max_retries=0)
    async with client:
        for _ in range(2):
            await client.chat.completions.create(model="limited", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="limited", messages=MESSAGES)
    assert transport.sent[0] == transport.sent[2] != transport.sent[1]
    assert refused.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert 0 < int(refused.value.response.headers["retry-after"]) <= 30


async def test_a_two_turn_conversation_stays_exact_across_replicas(replicas, write_scenario):
    write_scenario("agent", "turns:\n"
                            "  - reply: {text: First answer.}\n"
                            "  - attempts:\n"
                            f"      - {FAILS}\n"
                            "      - {faults: []}\n"
                            "    reply: {text: Second answer.}\n")
    servers = await replicas(speed=100)
    client, transport = round_robin(servers, max_retries=2)
    async with client:
        first = await client.chat.completions.with_raw_response.create(model="agent", messages=MESSAGES)
        history = [*MESSAGES, {"role": "assistant", "content": first.parse().choices[0].message.content},
                   {"role": "user", "content": "And then?"}]
        second = await client.chat.completions.with_raw_response.create(model="agent", messages=history)
    assert (first.headers["x-mockllm-turn"], first.headers["x-mockllm-attempt"]) == ("1", "1")
    assert (second.headers["x-mockllm-turn"], second.headers["x-mockllm-attempt"]) == ("2", "2")
    assert second.retries_taken == 1 and second.parse().choices[0].message.content == "Second answer."
    assert len(set(transport.sent)) == 2


async def test_the_journal_and_the_verdicts_on_either_replica_see_every_exchange(replicas, write_scenario):
    write_scenario("flaky", "reply: {text: Fine.}\nattempts:\n"
                            "  - {faults: [{status: {code: 429, headers: {retry-after-ms: 50}}}]}\n"
                            "  - {faults: []}\n")
    servers = await replicas(speed=100)
    client, _ = round_robin(servers, max_retries=1, default_headers={"X-Mockllm-Session": "judged"})
    async with client:
        await client.chat.completions.create(model="flaky", messages=MESSAGES)
    async with aiohttp.ClientSession() as http:
        journals = []
        for server in servers:
            async with http.get(server.url + "/_mockllm/journal?session=judged") as response:
                journals.append([(e["status"], e["attempt"]) for e in (await response.json())["entries"]])
        async with http.get(servers[1].url + "/_mockllm/verdicts?session=judged") as response:
            verdicts = (await response.json())["verdicts"]
    assert journals == [[(429, 1), (200, 2)]] * 2
    assert verdicts["honoured_retry_after"]["result"] == "pass"


async def test_a_scenario_added_on_one_replica_is_served_by_the_other_and_a_reset_reaches_both(
        replicas, write_scenario):
    write_scenario("hello", "reply: {text: Hello.}\n")
    servers = await replicas()
    async with aiohttp.ClientSession() as http:
        async with http.post(servers[0].url + "/_mockllm/scenarios",
                             data="name: added\nreply: {text: Added at run time.}\n") as response:
            assert response.status == 201
        async with openai.AsyncOpenAI(base_url=servers[1].base_url, api_key="sk", max_retries=0) as other:
            reply = await other.chat.completions.with_raw_response.create(model="added", messages=MESSAGES)
        assert reply.parse().choices[0].message.content == "Added at run time."
        assert reply.headers["x-mockllm-attempt"] == "1"
        async with http.post(servers[0].url + "/_mockllm/reset") as response:
            assert response.status == 204
        async with http.get(servers[1].url + "/_mockllm/journal") as response:
            assert (await response.json())["entries"] == []
        async with http.delete(servers[1].url + "/_mockllm/scenarios/added") as response:
            assert response.status == 204
        async with http.get(servers[0].url + "/_mockllm/scenarios") as response:
            assert [s["name"] for s in (await response.json())["scenarios"]] == ["hello"]


async def test_a_replica_started_later_gets_the_scenarios_added_before_it(start_server, write_scenario, redis_server):
    write_scenario("hello", "reply: {text: Hello.}\n")
    url = redis_server.url()
    first = await start_server([write_scenario.folder], state=url)
    async with aiohttp.ClientSession() as http:
        for name in ("one", "two", "one"):  # "one" replaced keeps its place
            async with http.post(first.url + "/_mockllm/scenarios", data=f"name: {name}\nreply: {{text: {name}}}\n"):
                pass
        async with http.delete(first.url + "/_mockllm/scenarios/hello"):
            pass
        later = await start_server([write_scenario.folder], state=url)
        names = []
        for server in (first, later):
            async with http.get(server.url + "/_mockllm/scenarios") as response:
                names.append([s["name"] for s in (await response.json())["scenarios"]])
    assert names == [["one", "two"]] * 2


async def test_while_redis_is_away_requests_get_a_503_in_their_format_and_nothing_is_lost(
        start_server, write_scenario, tmp_path):
    redis = RedisServer(keep_in=str(tmp_path))  # its own, keeping its data across the outage this test makes
    redis.start()
    try:
        write_scenario("hello", "reply: {text: Hello.}\n")
        server = await start_server([write_scenario.folder], state=redis.url())
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as client, \
                aiohttp.ClientSession() as http:
            await client.chat.completions.create(model="hello", messages=MESSAGES)
            redis.stop()
            with pytest.raises(openai.InternalServerError) as away:
                await client.chat.completions.create(model="hello", messages=MESSAGES)
            async with http.get(server.url + "/readyz") as response:
                assert (response.status, await response.json()) == (
                    503, {"status": "unavailable", "reason": "the state store is unavailable"})
            async with http.get(server.url + "/healthz") as response:
                assert response.status == 200  # alive: a restart would not bring Redis back
            async with http.get(server.url + "/_mockllm/health") as response:
                health = await response.json()
            redis.start()
            await asyncio.sleep(0.6)  # the journal writer tries again every 0.5 s
            again = await client.chat.completions.with_raw_response.create(model="hello", messages=MESSAGES)
            async with http.get(server.url + "/_mockllm/journal") as response:
                entries = (await response.json())["entries"]
            async with http.get(server.url + "/readyz") as response:
                ready = response.status
    finally:
        redis.stop()
    assert away.value.status_code == 503 and away.value.body["code"] == "state_unavailable"
    assert "unavailable" in away.value.message and "127.0.0.1" in away.value.message
    assert health["status"] == "unavailable" and health["state"]["problem"].startswith("the state store redis://")
    # The refused request was not counted, and its journal entry waited for Redis to come back.
    assert again.headers["x-mockllm-attempt"] == "2" and ready == 200
    assert [(e["status"], e["attempt"]) for e in entries] == [(200, 1), (503, None), (200, 2)]


def test_serve_refuses_a_state_url_it_cannot_use(capsys):
    assert cli.main(["serve", "--state", "memcached://127.0.0.1:11211", "--port", "0"]) == 2
    assert "expected redis://HOST:PORT/DB" in capsys.readouterr().err


def test_the_state_url_can_come_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("MOCKLLM_STATE", "redis://127.0.0.1:6379/0?group=bad group")
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "group: letters, digits" in capsys.readouterr().err


def test_a_journal_entry_survives_its_json_form():
    entry = Entry(id=7, time=1.5, method="POST", route="/v1/x", status=200, outcome=Outcome.COMPLETED,
                  faults=("a",), retry_headers=(("retry-after", "1"),))
    assert Entry.from_json(json.loads(json.dumps(entry.to_json()))) == entry


ROUTED = [d for d in DIALECTS.values() if d.routes]


def shape(value: object) -> object:
    """The keys of a JSON value, nested: an error object's shape without its words."""
    return {key: shape(item) for key, item in value.items()} if isinstance(value, dict) else None


async def test_with_redis_away_every_format_gets_its_own_503(start_server, write_scenario):
    redis = RedisServer()
    redis.start()
    write_scenario("hello", "reply: {text: Hello.}\n")
    server = await start_server([write_scenario.folder], state=redis.url(), default="hello")
    redis.stop()
    async with aiohttp.ClientSession() as http:
        for dialect in ROUTED:
            example = dialect.example("hello", "Hi", stream=True)
            async with http.post(server.url + example.path, json=example.body) as response:
                body = await response.read()
                assert response.status == 503, dialect.name
                assert response.headers["Content-Type"].startswith(dialect.error_content_type), dialect.name
            usual = dialect.status_error(503)  # the format's 503, with the code that says why
            expected = dialect.error_body(RequestError(503, "-", type=usual.type, code="state_unavailable"))
            assert shape(json.loads(body)) == shape(json.loads(expected)), dialect.name
            assert b"state store redis://127.0.0.1:" in body


async def test_two_hundred_clients_at_once_are_all_admitted_over_a_few_redis_connections(
        start_server, write_scenario, redis_server):
    write_scenario("hello", "reply: {text: Hello.}\n")
    server = await start_server([write_scenario.folder], state=redis_server.url())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one() -> int:
            async with http.post(server.base_url + "/chat/completions",
                                 json={"model": "hello", "messages": MESSAGES, "stream": True}) as response:
                await response.read()
                return response.status
        statuses = await asyncio.gather(*(one() for _ in range(200)))
        async with http.get(server.url + "/_mockllm/journal") as response:
            attempts = sorted(e["attempt"] for e in (await response.json())["entries"])
    assert statuses == [200] * 200  # redis-py's own pool refused the 101st connection before batching
    assert attempts == list(range(1, 201))  # one session (the client's address): each counted once


async def test_a_stream_whose_attempt_redis_was_slow_to_count_keeps_its_pace(start_server, write_scenario):
    """The script's clock starts once the store has answered: counted from
    when the request came, a round trip longer than the first token's delay
    would make the first events overdue, to go out together. The same holds
    for the 20-30 ms a fresh worker's first burst once waited on Redis."""
    redis = RedisServer()  # its own, to pause
    redis.start()
    assert redis.process is not None
    write_scenario("paced", "reply: {text: one two three four five six}\ntiming: {first_token: 50ms, per_token: 50ms}\n")
    try:
        server = await start_server([write_scenario.folder], state=redis.url(), speed=1)
        loop = asyncio.get_running_loop()
        arrivals: list[float] = []  # one per event, when the read that brought it came
        async with aiohttp.ClientSession() as http:
            async def read() -> None:
                async with http.post(server.base_url + "/chat/completions",
                                     json={"model": "paced", "messages": MESSAGES, "stream": True}) as response:
                    async for data in response.content.iter_any():
                        arrivals.extend([loop.time()] * data.count(b"data: "))

            os.kill(redis.process.pid, signal.SIGSTOP)  # the admission waits on a Redis that does not answer
            try:
                reading = asyncio.create_task(read())
                await asyncio.sleep(0.5)  # longer than the whole reply's 300 ms
            finally:
                os.kill(redis.process.pid, signal.SIGCONT)
            await asyncio.wait_for(reading, 10)
    finally:
        redis.stop()
    tokens = arrivals[1:-2]  # the opening chunk, the tokens, the finish chunk and [DONE]
    assert len(tokens) >= 6
    assert tokens[-1] - tokens[0] > 0.15, tokens  # 250 ms apart as planned; counted from the request, all at once


BURST = 600


async def test_a_burst_whose_attempts_redis_counts_at_once_does_not_hold_up_a_stream_already_playing(
        start_server, write_scenario):
    """Requests whose admissions come back together (here: Redis paused
    while a burst arrives, then let go) go on a few per turn of the loop,
    as they were taken up (intake.py), not all in one turn: a playing
    stream's longest gap stays well under the time the burst takes to go
    on (measured: 0.19-0.23 of it; all in one turn, 0.46-0.66). An ordering
    against the burst's own time, so a slow machine slows both sides."""
    redis = RedisServer()  # its own, to pause
    redis.start()
    assert redis.process is not None
    write_scenario("observed", "reply: {text: \"%s\"}\ntiming: {first_token: 0, per_token: 10ms}\n"
                   % " ".join(["word"] * 300))
    write_scenario("burst", 'reply: {text: "hi"}\ntiming: {first_token: 0}\n')
    loop = asyncio.get_running_loop()
    observed = Observed()
    try:
        server = await start_server([write_scenario.folder], state=redis.url(), speed=1)
        burst = await burst_client(server.port, BURST, "burst")
        assert burst.stdin is not None and burst.stdout is not None
        observer = asyncio.create_task(observed.read(
            server.base_url + "/chat/completions", {"model": "observed", "messages": MESSAGES, "stream": True}))
        await observed.playing.wait()
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            burst.stdin.write(b"go\n")
            await burst.stdin.drain()
            await asyncio.sleep(0.5)  # every request of the burst taken up, its admission waiting
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        resumed = loop.time()
        await burst.stdout.readline()  # the burst has had its first bytes
        ended = loop.time()
        await burst.wait()
        await observer
    finally:
        redis.stop()
    held = observed.longest_gap(resumed, ended, margin=0.01)
    assert held < (ended - resumed) * 0.4, (held, ended - resumed)
