"""A bounded, seeded fuzz of the running server: mutated built-in scenarios
posted to the control route, and hostile requests to every route. Whatever
comes in, the server answers with a 4xx (or the status a scenario's own fault
asks for), logs no traceback, never hangs, and keeps answering."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import aiohttp
import pytest

from mockllm.library import builtin_dir

SEED = 20261202
ROUNDS = 150
TIMEOUT = aiohttp.ClientTimeout(total=10)  # a hang fails the case instead of the run

HOSTILE_SCENARIOS = [
    "name: redos\nmatch: {prompt: '(a+)+$'}\nreply: {text: hi}\n",
    "name: big-int\nseed: " + "9" * 5000 + "\nreply: {text: hi}\n",
    "name: deep\ndescription: " + "[" * 5000 + "\nreply: {text: hi}\n",
    "name: huge-rep\nmatch: {prompt: 'a{99999999999}'}\nreply: {text: hi}\n",
    "name: crlf\nreply: {text: hi}\nfaults: [{status: {code: 500, headers: {x-a: \"b\\r\\nc: d\"}}}]\n",
    "name: bad-code\nreply: {text: hi}\nfaults: [{status: {code: 99999}}]\n",
    "name: bad-header\nreply: {text: hi}\nfaults: [{status: {code: 500, headers: {'bad name:': x}}}]\n",
    "name: ctype\nreply: {text: hi}\nfaults: [{content_type: {value: \"text/html\\r\\nx: y\"}}]\n",
    "name: surrogate\nreply: {text: \"\\ud800\"}\n",
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    + "name: laughs\nreply: {tool_calls: [{name: f, arguments: {x: *i}}]}\n",
    "\x00\xff not yaml at all {{{",
    "",
]
HOSTILE_VALUES = [
    None, True, -1, 0, 10**40, 1e308, "", "x" * 10_000, "\u2028\u0000", [], {}, [[[[[]]]]],
    {"role": "user"}, "\U0001F600", 99, -5, 2.5,
]
ROUTES = ["/v1/chat/completions", "/api/chat", "/v1/models", "/v1/stream/hello", "/_mockllm/journal"]


def mutate_lines(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        action = rng.choice(("drop", "dup", "swap", "scalar", "indent", "junk"))
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif action == "scalar" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = key + ": " + rng.choice(["9" * 5000, "[" * 300, "*nope", "!!python/object:os.system x",
                                                "'(x+x+)+y'", "-1", "1e999", "\"\\ud800\"", "{}", "~"])
        elif action == "indent":
            lines[i] = " " * rng.randint(1, 5) + lines[i]
        else:
            lines[i] = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randint(1, 20)))
    return "\n".join(lines) + "\n"


def hostile_request(rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
    body: dict = {"model": "hello", "stream": rng.random() < 0.7, "messages": [{"role": "user", "content": "Hi"}]}
    for _ in range(rng.randint(0, 3)):
        key = rng.choice(["model", "messages", "stream", "n", "max_tokens", "temperature", "stream_options",
                          "tools", "message", "content", "top_p", "user"])
        body[key] = rng.choice(HOSTILE_VALUES)
    data = json.dumps(body).encode()
    if rng.random() < 0.2:  # a lone surrogate, as JSON allows writing it, in any string
        data = data.replace(rng.choice([b'"Hi"', b'"hello"', b'"user"']), b'"\\ud800"')
    if rng.random() < 0.1:
        data = data[: rng.randrange(len(data) + 1)]
    headers = {"Content-Type": "application/json"}
    if rng.random() < 0.3:
        headers["X-Mockllm-Scenario"] = rng.choice(["hello", "nope", "x" * 300, "drop-reset", "stall-forever"])
    if rng.random() < 0.2:
        headers["X-Mockllm-Session"] = rng.choice(["s", "é", "x" * 2000])
    route = rng.choice(ROUTES)
    query = rng.choice(["", "?format=content", "?format=nope", "?session=%FF", "?prompt=%ED%A0%80", "?lastEventId=x"])
    method = "GET" if route in ("/v1/models", "/v1/stream/hello", "/_mockllm/journal") else "POST"
    return method, route + query, data, headers


def deliberate(response: aiohttp.ClientResponse) -> bool:
    """A 5xx that a scenario's own fault asks for (server-error, proxy-error-page)."""
    faults = response.headers.get("X-Mockllm-Faults", "")
    return "status(" in faults or "content_type" in faults


@pytest.fixture
def tracebacks(caplog):
    """Log records that carry a traceback: each one is a failure the server did not expect."""
    caplog.set_level(logging.ERROR)
    yield lambda: [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_mutated_and_hostile_scenarios_are_4xx_and_leave_the_server_answering(start_server, tracebacks):
    server = await start_server(speed=1000)
    rng = random.Random(SEED)
    files = sorted(Path(builtin_dir()).glob("*.yaml"))
    cases = HOSTILE_SCENARIOS + [mutate_lines(rng.choice(files).read_text("utf-8"), rng) for _ in range(ROUNDS)]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for text in cases:
            async with session.post(server.url + "/_mockllm/scenarios", data=text.encode("utf-8", "replace")) as r:
                assert r.status in (200, 201, 400, 413, 422), (r.status, text[:200], await r.text())
                if r.status >= 400:
                    assert "error" in await r.json()
        async with session.get(server.url + "/_mockllm/health") as r:
            assert r.status == 200
    assert tracebacks() == []


async def test_hostile_requests_get_4xx_and_leave_the_server_answering(start_server, tracebacks):
    server = await start_server(speed=1000)
    rng = random.Random(SEED)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for _ in range(ROUNDS * 2):
            method, path, data, headers = hostile_request(rng)
            async with session.request(method, server.url + path, data=data, headers=headers) as r:
                assert r.status < 500 or deliberate(r), (r.status, method, path, data[:200], await r.text())
                if r.status >= 400 and not deliberate(r):
                    assert "error" in json.loads(await r.read())
                else:
                    await r.content.read(2048)  # enough to see the stream start; the rest may never come
        async with session.get(server.url + "/_mockllm/health") as r:
            assert r.status == 200
    assert tracebacks() == []
