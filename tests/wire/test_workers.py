"""``mockllm serve --workers N``, as a user runs it: N processes on one port,
sharing attempts through Redis (theirs, or a private redis-server), a worker
that dies started again, and everything stopped by one SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import openai
import pytest
from redis import Redis

from ..redis_server import RedisServer

FLAKY = ("name: flaky\nreply: {text: Got there.}\nattempts:\n"
         "  - {faults: [{status: {code: 503, headers: {retry-after-ms: 10}}}]}\n"
         "  - {faults: [{status: {code: 503, headers: {retry-after-ms: 10}}}]}\n"
         "  - {faults: []}\n")


class Served:
    """``mockllm serve`` in a process of its own, stopped by the test that started it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "mockllm", "serve", "--port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = [self.process.stdout.readline() for _ in range(4)]
        assert self.lines[0].startswith("mockllm listening on "), (self.lines, self.process.stderr.read())
        self.url = self.lines[0].split("listening on ", 1)[1].strip()

    def health(self) -> dict:
        """Over a fresh connection, so the kernel may pick either worker."""
        with urllib.request.urlopen(self.url + "/_mockllm/health", timeout=10) as response:
            return json.load(response)

    def pids(self, connections: int = 24) -> set[int]:
        return {self.health()["pid"] for _ in range(connections)}

    def stop(self) -> int:
        """SIGTERM, as ``docker stop`` sends; the exit status. ``err`` is then what it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, self.err = self.process.communicate(timeout=30)
        return self.process.returncode


@pytest.fixture
def serve():
    started: list[Served] = []

    def start(*args: str, **options) -> Served:
        started.append(Served(*args, **options))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def children_of(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def scenarios(tmp_path: Path) -> str:
    (tmp_path / "flaky.yaml").write_text(FLAKY, encoding="utf-8")
    return str(tmp_path)


async def test_two_workers_share_one_port_and_count_the_attempts_of_a_retrying_client_as_one(
        serve, tmp_path, redis_server):
    state = redis_server.url()
    served = serve("--workers", "2", "--scenarios", scenarios(tmp_path), "--state", state, "--speed", "100")
    assert served.lines[3].strip() == f"2 workers on one port, sharing their state in {state}"
    assert len(served.pids()) == 2
    # No keep-alive: every try is a new connection, which may land on either worker.
    fresh = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
    async with openai.AsyncOpenAI(base_url=served.url + "/v1", api_key="sk", max_retries=2, http_client=fresh) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model="flaky", messages=[{"role": "user", "content": "Hi"}])
    assert raw.retries_taken == 2 and raw.headers["x-mockllm-attempt"] == "3"
    assert raw.parse().choices[0].message.content == "Got there."
    with urllib.request.urlopen(served.url + "/_mockllm/journal", timeout=10) as response:
        entries = json.load(response)["entries"]
    assert [(e["status"], e["attempt"]) for e in entries] == [(503, 1), (503, 2), (200, 3)]


def redis_counters(redis: Redis) -> dict[str, int]:
    """What Redis counted so far: scripts loaded, NOSCRIPT errors, connections, EVALSHA calls."""
    commands, errors = redis.info("commandstats"), redis.info("errorstats")
    return {"script loads": commands.get("cmdstat_script|load", {}).get("calls", 0),
            "noscript": errors.get("errorstat_NOSCRIPT", {}).get("count", 0),
            "connections": redis.info("stats")["total_connections_received"],
            "evalsha": commands.get("cmdstat_evalsha", {}).get("calls", 0)}


def test_once_it_listens_the_first_requests_neither_connect_to_redis_nor_load_a_script(serve, tmp_path):
    """Every worker loads the scripts and opens its connections before the
    listening line: its first requests cost a round trip each, not also a
    connection's handshake and a NOSCRIPT's two more, which in a fresh
    worker's first burst made the requests queue up behind the first one."""
    redis_server = RedisServer()  # its own, so the counters move for this test only
    redis_server.start()
    try:
        (tmp_path / "hello.yaml").write_text("reply: {text: Hello there.}\n", encoding="utf-8")
        served = serve("--workers", "2", "--scenarios", str(tmp_path), "--state", redis_server.url())
        with Redis(host="127.0.0.1", port=redis_server.port) as redis:
            before = redis_counters(redis)
            for _ in range(12):  # each on a fresh connection, which may land on either worker
                reply = httpx.post(served.url + "/v1/chat/completions", timeout=10, json={
                    "model": "hello", "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
                assert reply.status_code == 200 and reply.text.endswith("data: [DONE]\n\n")
            time.sleep(0.5)  # the journal is written behind
            after = redis_counters(redis)
    finally:
        served.stop()
        redis_server.stop()
    assert after["evalsha"] - before["evalsha"] >= 12  # every admission went to Redis
    assert {key: after[key] - before[key] for key in ("script loads", "noscript", "connections")} == {
        "script loads": 0, "noscript": 0, "connections": 0}


def test_without_state_the_workers_share_a_private_redis_server_that_stops_with_them(serve, tmp_path):
    served = serve("--workers", "2", "--scenarios", scenarios(tmp_path))
    assert served.lines[3].strip() == "2 workers on one port, sharing their state in a private redis-server"
    health = served.health()
    socket_path = health["state"]["store"].removeprefix("unix://")
    assert health["state"]["problem"] is None and Path(socket_path).exists()
    children = children_of(served.process.pid)
    assert len(children) == 3  # two workers and the redis-server
    assert served.stop() == 0
    time.sleep(0.2)
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []
    assert not Path(socket_path).parent.exists()


def test_a_worker_that_dies_is_started_again_and_the_port_keeps_answering(serve, tmp_path, redis_server):
    served = serve("--workers", "2", "--scenarios", scenarios(tmp_path), "--state", redis_server.url())
    before = served.pids()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    now: set[int] = set()
    while time.monotonic() < deadline:
        try:
            now = served.pids()
        except ConnectionResetError:  # one that was waiting in the dead worker's accept queue
            continue
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.2)
    assert len(now) == 2 and victim not in now and max(before) in now
    assert served.stop() == 0
    assert re.search(rf"worker \d \(pid {victim}\) ended \(signal SIGKILL\); starting it again",
                     served.err)


def test_more_than_one_worker_with_no_store_and_no_redis_server_is_refused_with_what_to_do(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no redis-server to be found
    done = subprocess.run([sys.executable, "-m", "mockllm", "serve", "--workers", "2", "--port", "0"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "--workers 2 needs a shared store: --state redis://HOST:PORT/DB, or redis-server on PATH" in done.stderr


@pytest.mark.parametrize("given", ["0", "two"])
def test_a_worker_count_that_is_not_a_whole_number_of_at_least_one_is_refused(given):
    done = subprocess.run([sys.executable, "-m", "mockllm", "serve", "--workers", given], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and f"expected a whole number of at least 1, got {given!r}" in done.stderr
