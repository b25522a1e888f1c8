"""``quota:`` over real sockets: the openai and anthropic SDKs watch their
provider's own rate-limit headers count down, meet the 429 when the bucket is
empty, and retry after the wait it states; every format refuses in its own
shape; tpm counts what ``usage`` reports; buckets are per API key or per
session; ``serve --quota`` covers scenarios without a quota of their own.
"""

from __future__ import annotations

import datetime
import json
import re
import time

import aiohttp
import anthropic
import openai
import pytest

from mockllm.dialects import DIALECTS
from mockllm.quota import Quota
from tests.docs import block_after, shows

ROUTED = [d for d in DIALECTS.values() if d.routes]  # ``content`` is served only where it is mounted
OPENAI_FAMILY = ("openai", "completions", "responses", "embeddings")
MESSAGES = [{"role": "user", "content": "Hi there."}]


def limited(write_scenario, quota: str, text: str = "Hello from a limited model.") -> None:
    write_scenario("limited", f"name: limited\nreply: {{text: {text!r}}}\nquota: {quota}\n")


def shape(value: object) -> object:
    """The keys of a JSON value, nested: an error object's shape without its words."""
    return {key: shape(item) for key, item in value.items()} if isinstance(value, dict) else None


def openai_duration(text: str) -> float:
    """Seconds in OpenAI's ``x-ratelimit-reset-*`` form: ``59.2s``, ``1m0s``, ``6m0s``."""
    minutes, seconds = re.fullmatch(r"(?:(\d+)m)?([\d.]+)s", text).groups()
    return int(minutes or 0) * 60 + float(seconds)


def openai_sdk(server, key: str = "sk-one", **options) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=key, **options)


async def test_the_openai_sdk_sees_its_budget_count_down_then_a_429(start_server, write_scenario):
    limited(write_scenario, "{rpm: 3, tpm: 1000}")
    server = await start_server([write_scenario.folder])
    began = time.monotonic()
    async with openai_sdk(server, max_retries=0) as sdk:
        seen = []
        for stream in (False, True, False):
            raw = await sdk.chat.completions.with_raw_response.create(model="limited", messages=MESSAGES,
                                                                      stream=stream)
            if stream:
                [chunk async for chunk in raw.parse()]  # the legacy raw response parses at once
            seen.append({name: raw.headers[f"x-ratelimit-{name}"]
                         for name in ("limit-requests", "remaining-requests", "reset-requests",
                                      "limit-tokens", "remaining-tokens")})
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(model="limited", messages=MESSAGES)
    elapsed = time.monotonic() - began  # the bucket refilled for this long: the waits below shrink by it
    assert [s["limit-requests"] for s in seen] == ["3", "3", "3"]
    assert [s["remaining-requests"] for s in seen] == ["2", "1", "0"]
    assert [s["limit-tokens"] for s in seen] == ["1000"] * 3
    tokens_left = [int(s["remaining-tokens"]) for s in seen]
    assert tokens_left == sorted(tokens_left, reverse=True) and len(set(tokens_left)) == 3
    # A bucket of 3 a minute refills one request in 20 s: the third leaves it ~60 s from full.
    assert 60 - elapsed <= openai_duration(seen[2]["reset-requests"]) <= 60
    headers = refused.value.response.headers
    assert 20 - elapsed - 1 <= int(headers["retry-after"]) <= 20
    assert (20 - elapsed) * 1000 <= int(headers["retry-after-ms"]) <= 20_000
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.value.body["code"] == "rate_limit_exceeded"
    assert "Rate limit reached for requests per minute: limit 3, remaining 0" in refused.value.message


async def test_the_openai_sdk_retries_after_the_stated_wait_and_is_answered(start_server, write_scenario):
    limited(write_scenario, "{rpm: 2}")
    server = await start_server([write_scenario.folder], speed=100)
    async with openai_sdk(server, max_retries=0) as sdk:
        for _ in range(2):
            await sdk.chat.completions.create(model="limited", messages=MESSAGES)
    began = time.monotonic()
    async with aiohttp.ClientSession() as http:
        async with http.post(server.base_url + "/chat/completions", headers={"Authorization": "Bearer sk-one"},
                             json={"model": "limited", "messages": MESSAGES}) as response:
            told = int(response.headers["retry-after-ms"]) / 1000
    assert response.status == 429 and 0.2 < told <= 0.3  # 30 s at speed 100
    async with openai_sdk(server) as patient:  # default retries: it waits, and is answered
        reply = await patient.chat.completions.create(model="limited", messages=MESSAGES)
    assert reply.choices[0].message.content == "Hello from a limited model."
    assert time.monotonic() - began >= told


async def test_the_anthropic_sdk_sees_its_budget_count_down_then_a_429(start_server, write_scenario):
    limited(write_scenario, "{rpm: 3, tpm: 1000}")
    server = await start_server([write_scenario.folder])
    before = datetime.datetime.now(datetime.timezone.utc)
    began = time.monotonic()
    async with anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant-one", max_retries=0) as sdk:
        seen = []
        for stream in (False, True, False):
            raw = await sdk.messages.with_raw_response.create(model="limited", max_tokens=64, messages=MESSAGES,
                                                              stream=stream)
            if stream:
                [event async for event in await raw.parse()]
            seen.append(raw.headers)
        with pytest.raises(anthropic.RateLimitError) as refused:
            await sdk.messages.create(model="limited", max_tokens=64, messages=MESSAGES)
    elapsed = time.monotonic() - began
    family = "anthropic-ratelimit-"
    assert [h[family + "requests-limit"] for h in seen] == ["3", "3", "3"]
    assert [h[family + "requests-remaining"] for h in seen] == ["2", "1", "0"]
    assert [h[family + "tokens-limit"] for h in seen] == ["1000"] * 3
    tokens_left = [int(h[family + "tokens-remaining"]) for h in seen]
    assert tokens_left == sorted(tokens_left, reverse=True) and len(set(tokens_left)) == 3
    resets = [datetime.datetime.fromisoformat(h[family + "requests-reset"].replace("Z", "+00:00")) for h in seen]
    assert resets == sorted(resets) and before < resets[0] <= resets[2] < before + datetime.timedelta(seconds=62)
    headers = refused.value.response.headers
    assert 20 - elapsed - 1 <= int(headers["retry-after"]) <= 20
    assert "retry-after-ms" not in headers  # an OpenAI header; Anthropic sends whole seconds
    assert headers[family + "requests-remaining"] == "0"
    assert refused.value.body["error"]["type"] == "rate_limit_error"


async def test_the_anthropic_sdk_retries_after_the_stated_wait_and_is_answered(start_server, write_scenario):
    limited(write_scenario, "{rpm: 2}")
    server = await start_server([write_scenario.folder], speed=100)
    async with anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant-one") as sdk:
        for _ in range(2):
            await sdk.messages.create(model="limited", max_tokens=64, messages=MESSAGES)
        began = time.monotonic()
        raw = await sdk.messages.with_raw_response.create(model="limited", max_tokens=64, messages=MESSAGES)
        waited = time.monotonic() - began
    assert raw.retries_taken == 1  # one 429, then the retry was answered
    assert (await raw.parse()).content[0].text == "Hello from a limited model."
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "1"  # 1 s is 100 s here: the bucket refilled
    assert waited >= 1  # the 429 said retry-after: 1 (0.3 s at speed 100, in whole seconds)


@pytest.mark.parametrize("dialect", ROUTED, ids=[d.name for d in ROUTED])
async def test_rpm_2_refuses_the_third_request_for_30_seconds_in_each_formats_shape(
    start_server, write_scenario, dialect
):
    limited(write_scenario, "{rpm: 2}")
    server = await start_server([write_scenario.folder])
    example = dialect.example("limited", "Hi there.", stream=False)
    async with aiohttp.ClientSession() as http:
        statuses = []
        began = time.monotonic()
        for _ in range(3):
            async with http.post(server.url + example.path, json=example.body) as response:
                statuses.append(response.status)
                body = await response.read()
        elapsed = time.monotonic() - began
    assert statuses == [200, 200, 429]
    # The window opened with the first request: what is left of it, in whole seconds up
    # (30 on a quiet machine; less on a loaded one, where the three requests took longer).
    assert 30 - elapsed - 1 <= int(response.headers["retry-after"]) <= 30
    assert response.headers["Content-Type"].startswith(dialect.error_content_type)
    assert "Rate limit reached for requests per minute: limit 2, remaining 0, requested 1" in body.decode()
    assert shape(json.loads(body)) == shape(json.loads(dialect.error_body(dialect.status_error(429))))
    budget_headers = {name for name in response.headers if "ratelimit" in name.lower()}
    if dialect.name in OPENAI_FAMILY:
        assert (30 - elapsed) * 1000 <= int(response.headers["retry-after-ms"]) <= 30_000
        assert response.headers["x-ratelimit-remaining-requests"] == "0"
    elif dialect.name == "anthropic":
        assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    else:  # Gemini and Ollama send no budget headers
        assert budget_headers == set()
    if dialect.name == "gemini":  # its clients read the wait from the body's RetryInfo
        [retry_info] = [d for d in json.loads(body)["error"]["details"] if d["@type"].endswith("RetryInfo")]
        assert retry_info["retryDelay"] == response.headers["retry-after"] + "s"


async def test_tpm_counts_the_prompt_and_completion_tokens_usage_reports(start_server, write_scenario):
    limited(write_scenario, "{tpm: 1000}")
    server = await start_server([write_scenario.folder])
    async with openai_sdk(server, max_retries=0) as sdk:
        left = []
        for _ in range(2):
            raw = await sdk.chat.completions.with_raw_response.create(model="limited", messages=MESSAGES)
            left.append(int(raw.headers["x-ratelimit-remaining-tokens"]))
            usage = raw.parse().usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert left == [1000 - usage.total_tokens, 1000 - 2 * usage.total_tokens]
    assert raw.headers["x-ratelimit-limit-requests"] == "500"  # no rpm: the usual requests headers stay


async def test_a_request_larger_than_the_tpm_limit_is_refused_without_a_wait(start_server, write_scenario):
    limited(write_scenario, "{tpm: 5}", text="one two three four five six seven")
    server = await start_server([write_scenario.folder])
    async with openai_sdk(server, max_retries=0) as sdk:
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(model="limited", messages=MESSAGES)
    assert "retry-after" not in refused.value.response.headers  # no wait would make it fit
    assert "Request too large for tokens per minute: limit 5" in refused.value.message
    assert refused.value.response.headers["x-ratelimit-remaining-tokens"] == "5"  # nothing was taken


@pytest.mark.parametrize(("per", "admitted"), [
    # Requests from (key, session): the same key in two sessions, then another key.
    ("api_key", [True, False, True]),
    ("session", [True, True, False]),
], ids=["per-api-key", "per-session"])
async def test_per_says_whose_requests_share_a_bucket(start_server, write_scenario, per, admitted):
    limited(write_scenario, f"{{rpm: 1, per: {per}}}")
    server = await start_server([write_scenario.folder])
    seen = []
    async with aiohttp.ClientSession() as http:
        for key, session in (("sk-one", "s1"), ("sk-one", "s2"), ("sk-two", "s2")):
            async with http.post(server.base_url + "/chat/completions",
                                 headers={"Authorization": f"Bearer {key}", "X-Mockllm-Session": session},
                                 json={"model": "limited", "messages": MESSAGES}) as response:
                seen.append(response.status == 200)
    assert seen == admitted
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/journal") as response:
            [refused] = [entry for entry in (await response.json())["entries"] if entry["status"] == 429]
    assert (refused["scenario"], refused["outcome"], refused["attempt"]) == ("limited", "error", None)
    assert refused["error"].startswith("Rate limit reached for requests per minute: limit 1, remaining 0")


async def test_serve_quota_covers_every_scenario_without_a_quota_of_its_own(start_server, write_scenario):
    limited(write_scenario, "{rpm: 3}")
    write_scenario("open", "name: open\nreply: {text: Unlimited by itself.}\n")
    server = await start_server([write_scenario.folder], quota=Quota(rpm=1))
    async with openai_sdk(server, max_retries=0) as sdk:
        remaining = []
        for model in ("open", "limited", "limited"):
            raw = await sdk.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
            remaining.append((model, raw.headers["x-ratelimit-limit-requests"],
                              raw.headers["x-ratelimit-remaining-requests"]))
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model="open", messages=MESSAGES)
    assert remaining == [("open", "1", "0"), ("limited", "3", "2"), ("limited", "3", "1")]


async def test_without_a_quota_the_usual_headers_stay(start_server, write_scenario):
    write_scenario("open", "name: open\nreply: {text: Unlimited.}\n")
    server = await start_server([write_scenario.folder])
    async with openai_sdk(server, max_retries=0) as sdk:
        for _ in range(2):
            raw = await sdk.chat.completions.with_raw_response.create(model="open", messages=MESSAGES)
            assert (raw.headers["x-ratelimit-limit-requests"], raw.headers["x-ratelimit-remaining-requests"]) == (
                "500", "499")


async def test_the_readme_example_is_what_three_requests_in_a_row_see(start_server, write_scenario):
    write_scenario("limited", block_after("### Quotas", "yaml"))
    server = await start_server([write_scenario.folder])
    wanted = re.compile(r"HTTP|x-ratelimit-[a-z]+-requests|retry-after", re.IGNORECASE)
    lines = []
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(server.base_url + "/chat/completions",
                                 json={"model": "limited", "messages": [{"role": "user", "content": "Hi"}]}) as got:
                lines.append(f"HTTP/1.1 {got.status} {got.reason}")
                raw = [(name.decode(), value.decode()) for name, value in got.raw_headers]  # as curl shows them
                lines += [f"{name}: {value}" for name, value in raw if wanted.match(name)]
    shown = block_after("requests to `limited` in a row, in the OpenAI format:").splitlines()
    assert shows([line for line in shown if not line.startswith(("$", " "))], lines), "\n".join(lines)


async def test_the_turns_of_a_conversation_share_its_quota(start_server, write_scenario):
    write_scenario("agent", """
        name: agent
        quota: {rpm: 2}
        turns:
          - reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
          - reply: {text: Sunny.}
    """)
    server = await start_server([write_scenario.folder])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    async with openai_sdk(server, max_retries=0) as sdk:
        first = await sdk.chat.completions.with_raw_response.create(model="agent", messages=MESSAGES, tools=tools)
        call = first.parse().choices[0].message
        messages = [*MESSAGES, call.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.tool_calls[0].id, "content": "18 °C"}]
        second = await sdk.chat.completions.with_raw_response.create(model="agent", messages=messages, tools=tools)
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model="agent", messages=MESSAGES, tools=tools)
    assert [r.headers["x-mockllm-turn"] for r in (first, second)] == ["1", "2"]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in (first, second)] == ["1", "0"]


async def test_a_control_reset_refills_every_bucket(start_server, write_scenario):
    limited(write_scenario, "{rpm: 1}")
    server = await start_server([write_scenario.folder])
    async with aiohttp.ClientSession() as http:
        async def status() -> int:
            async with http.post(server.base_url + "/chat/completions",
                                 json={"model": "limited", "messages": MESSAGES}) as response:
                return response.status
        assert [await status(), await status()] == [200, 429]
        async with http.post(server.url + "/_mockllm/reset") as reset:
            assert reset.status == 204
        assert await status() == 200


async def test_a_client_that_ignores_a_quotas_retry_after_fails_honoured_retry_after(start_server, write_scenario):
    limited(write_scenario, "{rpm: 2}")
    server = await start_server([write_scenario.folder])
    async with aiohttp.ClientSession(headers={"X-Mockllm-Session": "eager"}) as http:
        for _ in range(4):  # two admitted, then a 429 asking for 30 s, retried at once
            async with http.post(server.base_url + "/chat/completions",
                                 json={"model": "limited", "messages": MESSAGES}) as response:
                await response.read()
        async with http.get(server.url + "/_mockllm/verdicts", params={"session": "eager"}) as answer:
            verdict = (await answer.json())["verdicts"]["honoured_retry_after"]
    assert verdict["result"] == "fail"
    assert any("asked for 30 s" in json.dumps(item) for item in verdict["evidence"])
