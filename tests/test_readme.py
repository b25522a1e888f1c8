"""The documentation's examples that show output (README and docs/, found by
``tests/docs.py``), checked against what mockllm really prints or sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.docs import block_after, shows


def test_shows_matches_elisions_and_refuses_a_difference():
    assert shows(["a…c", "…", "end"], ["abbc", "x", "y", "end"])
    assert not shows(["a…c", "end"], ["abbd", "end"])
    assert not shows(["a", "…"], ["b"])


async def test_the_quickstart_stream_is_what_curl_receives(builtin):
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + "/v1/chat/completions", json=body) as response:
            received = (await response.read()).decode()
    expected = block_after("Start the server, then stream a reply with curl:")
    assert shows(expected.splitlines(), received.splitlines()), received[:600]


async def test_the_journal_example_is_an_entry_as_the_server_records_it(builtin):
    """The README's story: a client stops reading a long reply part way."""
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="sk-test", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="long-reply", stream=True, messages=[{"role": "user", "content": "Tell me about streaming."}]
        )
        tokens = 0
        async for chunk in stream:
            tokens += bool(chunk.choices and chunk.choices[0].delta.content)
            if tokens == 7:
                break
        await stream.close()
    async with aiohttp.ClientSession() as session:
        for _ in range(100):  # the entry is written once the server has seen the client go
            async with session.get(builtin.url + "/_mockllm/journal") as response:
                journal = await response.json()
            if journal["entries"]:
                break
    shown = json.loads(block_after("Each journal entry is one exchange", "json"))
    assert list(shown) == list(journal) == ["entries"]
    [example], [real] = shown["entries"], journal["entries"]
    assert list(example) == list(real)  # the same fields, in the same order
    for key in ("method", "route", "status", "outcome", "scenario", "attempt", "faults", "ignored_faults", "error"):
        assert example[key] == real[key], key
    for key, value in example.items():
        assert type(value) is type(real[key]), key
    assert list(example["request"]) == list(real["request"])
    assert real["tokens"] >= 7


def test_the_failing_test_example_prints_the_journal_shown(pytester):
    marker = "### When a test fails"
    test = block_after(marker, "python")
    pytester.makepyfile(test_example="import openai\n\n\n" + test)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    expected = block_after(marker).splitlines()
    actual = result.outlines
    assert shows(["…", *expected, "…"], actual), "\n".join(actual)


def test_the_async_example_passes_with_pytest_asyncio(pytester):
    test = block_after("pytest itself does not run `async def` tests", "python")
    name, _, body = test.partition("\n")
    pytester.makepyfile(**{Path(name.removeprefix("# ")).stem: body})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "asyncio")
    result.assert_outcomes(passed=1)


async def test_the_verdicts_example_is_what_the_route_answers(start_server, write_scenario):
    """The README's story: the OpenAI SDK meets a 429, then a stall, and passes."""
    example = json.loads(block_after("Here the OpenAI SDK (read timeout 0.5 s) met a 429", "json"))
    scenario = re.search(r'BUSY_THEN_STALLED = """(.*?)"""', block_after("### Asserting how your client", "python"), re.S)
    assert scenario is not None
    write_scenario("busy-then-stalled", scenario[1])
    server = await start_server([write_scenario.folder])
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", timeout=openai.Timeout(10, read=0.5),
        default_headers={"X-Mockllm-Session": "checkout-ui"},
    ) as client:
        stream = await client.chat.completions.create(
            model="busy-then-stalled", stream=True, messages=[{"role": "user", "content": "Hi"}])
        with pytest.raises(openai.APITimeoutError):
            async for _ in stream:
                pass
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/_mockllm/verdicts?session=checkout-ui&stall_deadline=2") as response:
            real = await response.json()
    assert real["session"] == example["session"]
    assert list(real["verdicts"]) == list(example["verdicts"])
    for name, shown in example["verdicts"].items():
        judged = real["verdicts"][name]
        assert judged["result"] == shown["result"], (name, judged)
        for shown_item, real_item in zip(shown["evidence"], judged["evidence"]):
            if shown_item != "…":
                assert list(shown_item) == list(real_item), name
                assert shows([shown_item["note"].replace("1.04 s", "1… s").replace("0.6 s", "0… s")],
                             [real_item["note"]]), real_item["note"]


def test_the_assert_client_example_passes_the_sdk_and_fails_the_naive_loop_with_evidence(pytester):
    marker = "### Asserting how your client behaved"
    test = block_after(marker, "python")
    name, _, body = test.partition("\n")
    pytester.makepyfile(**{Path(name.removeprefix("# ")).stem: body})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    expected = block_after("The naive loop fails, and the message says why").splitlines()
    assert shows(["…", *expected, "…"], result.outlines), "\n".join(result.outlines)
