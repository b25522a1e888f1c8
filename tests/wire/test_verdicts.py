"""GET /_mockllm/verdicts: how a client behaved, judged from the wire alone.

The official SDKs with their default retries pass every verdict that applies;
a deliberately bad client (an httpx loop that retries at once, ignores
``retry-after`` and never times out) fails each one it can, with evidence
that names its entries. Timing is only compared with generous bounds.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import anthropic
import httpx
import openai
import pytest

from mockllm.verdicts import NAMES

from . import anthropic_raises
from .fault_clients import MESSAGES

REPLY = 'reply: {text: "All good in the end."}\n'
SCENARIOS = {
    # 429 asking for 0.3 s, a 500 asking nothing, then the reply.
    "limited": REPLY + "attempts:\n"
    "  - faults: [{status: {code: 429, headers: {retry-after-ms: '300', retry-after: '1'}}}]\n"
    "  - faults: [{status: {code: 500}}]\n"
    "  - faults: []\n",
    "failing": REPLY + "attempts:\n  - faults: [{status: {code: 500}}]\n  - faults: [{status: {code: 500}}]\n"
    "  - faults: []\n",
    "refused": REPLY + "faults: [{status: {code: 400}}]\n",
    "told-not-to": REPLY + "faults: [{status: {code: 503, headers: {x-should-retry: 'false'}}}]\n",
    "stalled": REPLY + "faults: [{stall: {after: 2}}]\n",
    # A conversation whose first reply is cut on the first attempt.
    "story": "turns:\n"
    "  - reply: {text: 'Once upon a time there was a stream.'}\n"
    "    attempts: [{faults: [{drop: {after: 3}}]}, {faults: []}]\n"
    "  - reply: {text: 'And it ended well.'}\n",
}


@pytest.fixture
async def server(start_server, write_scenario):
    for name, text in SCENARIOS.items():
        write_scenario(name, text)
    return await start_server([write_scenario.folder])


async def verdicts(server, session: str, **limits: object) -> dict[str, dict]:
    query = {"session": session, **{k: str(v) for k, v in limits.items()}}
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/verdicts", params=query) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
    assert body["session"] == session
    assert set(body["verdicts"]) == set(NAMES)
    return body["verdicts"]


def results(judged: dict[str, dict]) -> dict[str, str]:
    return {name: verdict["result"] for name, verdict in judged.items()}


# -- the official SDKs pass -------------------------------------------------

TEXT = "All good in the end."


async def every_flow(ask, errors: tuple[type[Exception], ...]) -> None:
    """Through ``ask(model) -> text``: two retried failures that end well, then
    ``refused``, ``told-not-to`` and ``stalled``, which raise ``errors``."""
    assert await ask("limited") == TEXT
    assert await ask("failing") == TEXT
    for model, error in zip(("refused", "told-not-to", "stalled"), errors):
        with pytest.raises(error):
            await ask(model)


async def openai_flows(server, session: str) -> None:
    client = openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", default_headers={"X-Mockllm-Session": session},
        timeout=openai.Timeout(10, read=0.5),  # a read timeout, so that a stall is given up
    )

    async def chat(model: str) -> str:
        stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async with client:
        await every_flow(chat, (openai.BadRequestError, openai.InternalServerError, openai.APITimeoutError))


async def anthropic_flows(server, session: str) -> None:
    client = anthropic.AsyncAnthropic(
        base_url=server.url, api_key="sk-test", default_headers={"X-Mockllm-Session": session},
        timeout=anthropic.Timeout(10, read=0.5),
    )

    async def message(model: str) -> str:
        async with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as stream:
            return "".join([text async for text in stream.text_stream])

    async with client:
        # Mid-stream, the SDK's read timeout (before 2.17: its transport's, raw).
        await every_flow(message, (anthropic.BadRequestError, anthropic.InternalServerError, anthropic_raises.READ_TIMEOUT))


@pytest.mark.parametrize("flows", [openai_flows, anthropic_flows], ids=["openai", "anthropic"])
async def test_an_official_sdk_with_default_retries_passes_every_verdict_that_applies(server, flows):
    await flows(server, "sdk")
    judged = await verdicts(server, "sdk")
    assert results(judged) == {
        "honoured_retry_after": "pass", "backed_off": "pass", "bounded_retries": "pass",
        "no_retry_on_non_retryable": "pass", "obeyed_should_retry": "pass", "aborted_stall": "pass",
        "resumed_with_last_event_id": "n/a", "noticed_truncation": "n/a",
    }, judged
    honoured = judged["honoured_retry_after"]["evidence"]
    assert [e["asked"] for e in honoured] == [0.3]  # retry-after-ms wins over retry-after
    assert honoured[0]["waited"] >= 0.29
    assert honoured[0]["cap"]["client"].split("/")[0] in ("AsyncOpenAI", "AsyncAnthropic")


async def test_the_evidence_names_the_cap_that_applied(server):
    await openai_flows(server, "capped")
    cap = (await verdicts(server, "capped"))["honoured_retry_after"]["evidence"][0]["cap"]
    assert cap["client"] == f"AsyncOpenAI/Python {openai.__version__}"
    assert cap["seconds"] == 120
    assert cap["beyond"] == "does not retry"


# -- a bad client fails -------------------------------------------------------

BOUND = 8  # attempts the bad client makes before the test stops it


async def bad_client(server, session: str, model: str) -> None:
    """Retries at once on any failure, ignores retry-after, never times out."""
    async with httpx.AsyncClient(timeout=None, headers={"X-Mockllm-Session": session}) as http:
        for _ in range(BOUND):
            body = {"model": model, "messages": MESSAGES, "stream": True}
            async with http.stream("POST", server.base_url + "/chat/completions", json=body) as response:
                if response.status_code < 400:
                    async for _ in response.aiter_bytes():
                        pass
                    return


async def test_a_bad_client_fails_each_verdict_with_its_evidence(server):
    async def stalled() -> None:  # the bad client would wait forever: the test gives up for it after 1 s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bad_client(server, "bad", "stalled"), 1.0)

    await asyncio.gather(*(bad_client(server, "bad", m) for m in ("limited", "refused", "told-not-to")), stalled())
    judged = await verdicts(server, "bad", stall_deadline=0.5)
    assert results(judged) == {
        "honoured_retry_after": "fail", "backed_off": "fail", "bounded_retries": "fail",
        "no_retry_on_non_retryable": "fail", "obeyed_should_retry": "fail", "aborted_stall": "fail",
        "resumed_with_last_event_id": "n/a", "noticed_truncation": "n/a",
    }, judged
    early = [e for e in judged["honoured_retry_after"]["evidence"] if e["result"] == "fail"]
    assert early and early[0]["asked"] == 0.3 and early[0]["waited"] < 0.3
    assert any("under 100 ms" in e["note"] for e in judged["backed_off"]["evidence"])
    retried = [e for e in judged["no_retry_on_non_retryable"]["evidence"] if e["result"] == "fail"]
    assert len(retried) == BOUND - 1 and {e["status"] for e in retried} == {400}
    stall = judged["aborted_stall"]["evidence"][0]
    assert stall["stall_for"] is None and stall["ended_at"] - stall["stall_at"] > 0.5


async def test_a_retry_storm_fails_bounded_retries_at_the_limit_the_user_sets(server):
    await bad_client(server, "storm", "refused")  # BOUND attempts: one request, BOUND - 1 retries
    assert results(await verdicts(server, "storm"))["bounded_retries"] == "fail"
    judged = await verdicts(server, "storm", max_retries=BOUND - 1)
    assert judged["bounded_retries"]["result"] == "pass"
    assert judged["bounded_retries"]["evidence"][0]["retries"] == BOUND - 1


@pytest.mark.parametrize(
    ("query", "param"),
    [({}, "session"), ({"session": "s", "max_retries": "many"}, "max_retries"),
     ({"session": "s", "stall_deadline": "-1"}, "stall_deadline")],
    ids=["no-session", "bad-max-retries", "negative-deadline"],
)
async def test_a_bad_query_is_a_400_naming_the_parameter(server, query, param):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/_mockllm/verdicts", params=query) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == param


async def test_a_session_with_no_requests_has_nothing_to_judge(server):
    assert set(results(await verdicts(server, "nobody")).values()) == {"n/a"}


# -- noticed_truncation --------------------------------------------------------

async def tell_a_story(server, session: str, *, keep_partial: bool) -> str:
    """An app on the SDK whose stream is cut: it retries the question, or (the
    bug) keeps the partial text as the model's answer and goes on."""
    question = [{"role": "user", "content": "Tell me a story."}]
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0,
                                  default_headers={"X-Mockllm-Session": session}) as client:
        async def turn(messages: list[dict]) -> str:
            text = ""
            try:
                stream = await client.chat.completions.create(model="story", messages=messages, stream=True)
                async for chunk in stream:
                    text += chunk.choices[0].delta.content or "" if chunk.choices else ""
            except openai.APIConnectionError:
                if not keep_partial:
                    return await turn(messages)
            return text

        told = await turn(question)
        return await turn([*question, {"role": "assistant", "content": told}, {"role": "user", "content": "Go on."}])


async def test_an_app_that_retries_a_cut_reply_noticed_the_truncation(server):
    assert await tell_a_story(server, "careful", keep_partial=False) == "And it ended well."
    judged = await verdicts(server, "careful")
    assert judged["noticed_truncation"]["result"] == "pass", judged["noticed_truncation"]
    assert judged["noticed_truncation"]["evidence"][0]["received"] == "Once upon a"


async def test_an_app_that_keeps_the_partial_text_as_the_answer_fails_noticed_truncation(server):
    await tell_a_story(server, "careless", keep_partial=True)
    verdict = (await verdicts(server, "careless"))["noticed_truncation"]
    assert verdict["result"] == "fail", verdict
    [evidence] = verdict["evidence"]
    assert evidence["received"] == "Once upon a" and evidence["assistant_turns"] == ["Once upon a"]
    assert "sent it back as a finished assistant turn" in evidence["note"]
