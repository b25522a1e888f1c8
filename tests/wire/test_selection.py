"""Which scenario answers: header, then model, then match rules in load order, then the default."""

from __future__ import annotations

import json
import textwrap

import aiohttp
import openai
import pytest

CHAT = "/v1/chat/completions"


def says(text: str, match: str | None = None) -> str:
    rule = f"match: {{prompt: {json.dumps(match)}}}\n" if match else ""
    return rule + f"reply: {{text: {json.dumps(text)}}}\n"


@pytest.fixture
def folder(write_scenario):
    write_scenario("plain", says("plain reply"))
    write_scenario("poet", says("poet reply", match="(?i)poem"))
    write_scenario("sonneteer", says("sonneteer reply", match="(?i)poem|sonnet"))
    write_scenario("fallback", says("fallback reply"))
    return write_scenario.folder


@pytest.fixture
async def server(start_server, folder):
    return await start_server([folder], default="fallback", speed=50)


def user(content) -> dict:
    return {"role": "user", "content": content}


async def ask(server, messages, model="gpt-4o", headers=None) -> tuple[int, dict, dict]:
    """POST a non-streaming request; returns status, response headers and decoded body."""
    body = {"model": model, "messages": messages}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + CHAT, json=body, headers=headers or {}) as response:
            return response.status, dict(response.headers), await response.json()


def reply_of(body: dict) -> str:
    return body["choices"][0]["message"]["content"]


# -- the rules, in order of precedence ----------------------------------------

@pytest.mark.parametrize(
    ("header", "model", "messages", "expected"),
    [
        ("poet", "plain", [user("hello")], "poet"),
        ("plain", "gpt-4o", [user("a poem please")], "plain"),
        (None, "plain", [user("a poem please")], "plain"),
        (None, "gpt-4o", [user("a poem please")], "poet"),
        (None, "gpt-4o", [user("a sonnet please")], "sonneteer"),
        (None, "gpt-4o", [user([{"type": "text", "text": "write a "}, {"type": "text", "text": "POEM"}])], "poet"),
        (None, "gpt-4o", [user("a poem"), {"role": "assistant", "content": "ok"}, user("thanks")], "fallback"),
        (None, "gpt-4o", [user("a poem"), {"role": "assistant", "content": "ok"}], "poet"),
        (None, "gpt-4o", [{"role": "system", "content": "you write poems"}, user("hi")], "fallback"),
        (None, "gpt-4o", [user("hello")], "fallback"),
    ],
    ids=[
        "header-beats-model",
        "header-beats-match",
        "model-beats-match",
        "match-rule",
        "second-match-rule",
        "match-on-text-parts",
        "match-only-the-last-user-message",
        "last-user-message-before-assistant",
        "system-message-is-not-matched",
        "default",
    ],
)
async def test_selection_precedence(server, header, model, messages, expected):
    headers = {"X-Mockllm-Scenario": header} if header else {}
    status, response_headers, body = await ask(server, messages, model, headers)
    assert status == 200
    assert reply_of(body) == f"{expected} reply"
    assert response_headers["X-Mockllm-Scenario"] == expected


async def test_match_rules_are_tried_in_load_order(start_server, folder, tmp_path):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "zz-rhymer.yaml").write_text(textwrap.dedent(says("rhymer reply", match="poem")))
    server = await start_server([earlier, folder], default="fallback", speed=50)
    _, headers, body = await ask(server, [user("a poem")])
    assert reply_of(body) == "rhymer reply"
    assert headers["X-Mockllm-Scenario"] == "zz-rhymer"


async def test_default_argument_names_the_default(start_server, folder):
    server = await start_server([folder], default="plain", speed=50)
    _, headers, body = await ask(server, [user("hello")], model="gpt-4o-mini")
    assert reply_of(body) == "plain reply"
    assert headers["X-Mockllm-Scenario"] == "plain"


async def test_unknown_model_falls_through_to_the_builtin_default(builtin):
    _, headers, body = await ask(builtin, [user("zzz qqq")], model="gpt-4o-2099-01-01")
    assert headers["X-Mockllm-Scenario"] == "hello"
    assert reply_of(body).startswith("Hello!")


# -- nothing selected ---------------------------------------------------------------

def assert_not_found_listing_names(status: int, body: dict, names: list[str]) -> None:
    assert status == 404
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    for name in names:
        assert name in error["message"]


async def test_unknown_scenario_header_is_404_listing_the_names(server):
    status, headers, body = await ask(server, [user("a poem")], "plain", {"X-Mockllm-Scenario": "no-such"})
    assert_not_found_listing_names(status, body, ["plain", "poet", "sonneteer", "fallback"])
    assert "no-such" in body["error"]["message"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"


async def test_unmatched_request_without_default_is_404_listing_the_names(start_server, folder):
    server = await start_server([folder], speed=50)
    status, _, body = await ask(server, [user("hello")], model="gpt-4o")
    assert_not_found_listing_names(status, body, ["plain", "poet", "sonneteer", "fallback"])


async def test_without_default_the_rules_still_select(start_server, folder):
    server = await start_server([folder], speed=50)
    status, _, body = await ask(server, [user("a poem")], model="gpt-4o")
    assert status == 200
    assert reply_of(body) == "poet reply"


async def test_unknown_header_raises_not_found_in_the_sdk(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        with pytest.raises(openai.NotFoundError) as raised:
            await sdk.chat.completions.create(
                model="plain",
                messages=[user("hi")],
                stream=True,
                extra_headers={"X-Mockllm-Scenario": "no-such"},
            )
    assert "fallback" in raised.value.message


# -- /v1/models ----------------------------------------------------------------------

async def test_models_lists_every_scenario(server):
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/v1/models") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            listing = await response.json()
    assert listing["object"] == "list"
    assert sorted(m["id"] for m in listing["data"]) == ["fallback", "plain", "poet", "sonneteer"]
    for model in listing["data"]:
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
        assert isinstance(model["owned_by"], str)


async def test_sdk_lists_the_scenarios_as_models(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
        ids = [model.id async for model in sdk.models.list()]
    assert sorted(ids) == ["fallback", "plain", "poet", "sonneteer"]


async def test_builtin_models_include_the_default(client):
    ids = [model.id async for model in client.models.list()]
    assert "hello" in ids
