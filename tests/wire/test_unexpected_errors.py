"""A bug in a handler is a 500 in the API's error shape with a short message,
its traceback in the log (never in the response), and the server keeps answering."""

from __future__ import annotations

import json
import logging

import aiohttp
import openai
import pytest

from mockllm import control, player, router

from .fault_clients import CHAT, ask, sdk

SECRET = "internal detail /etc/secret"
ERROR_KEYS = {"message", "type", "param", "code"}


def explode(*args, **kwargs):
    raise RuntimeError(SECRET)


@pytest.mark.parametrize(
    ("module", "name", "method", "path", "body"),
    [
        (router, "select", "POST", CHAT, json.dumps(ask("hello", stream=False))),
        (control, "parse_text", "POST", "/_mockllm/scenarios", "name: x\nreply: {text: hi}\n"),
    ],
    ids=["api-route", "control-route"],
)
async def test_an_unexpected_exception_is_a_500_in_the_error_shape_with_the_traceback_logged(
    builtin, monkeypatch, caplog, module, name, method, path, body
):
    monkeypatch.setattr(module, name, explode)
    with caplog.at_level(logging.ERROR, logger="mockllm"):
        async with aiohttp.ClientSession() as session:
            async with session.request(method, builtin.url + path, data=body) as response:
                raw = await response.read()
    assert response.status == 500
    assert response.content_type == "application/json"
    error = json.loads(raw)["error"]
    assert set(error) == ERROR_KEYS
    assert error["type"] == "server_error"
    assert SECRET not in raw.decode() and "Traceback" not in raw.decode()
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert logged[0].exc_info[0] is RuntimeError and path in logged[0].getMessage()

    monkeypatch.undo()
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + CHAT, json=ask("hello", stream=False)) as response:
            assert response.status == 200


async def test_the_sdk_sees_an_internal_server_error_and_the_journal_says_error(builtin, monkeypatch):
    monkeypatch.setattr(router, "select", explode)
    async with sdk(builtin) as client:
        with pytest.raises(openai.InternalServerError) as raised:
            await client.chat.completions.create(model="hello", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 500
    async with aiohttp.ClientSession() as session:
        async with session.get(builtin.url + "/_mockllm/journal") as response:
            (entry,) = (await response.json())["entries"]
    assert (entry["status"], entry["outcome"]) == (500, "error")
    assert SECRET not in json.dumps(entry)


async def broken_play(*args, **kwargs):
    raise RuntimeError(SECRET)


async def test_a_bug_before_the_stream_starts_is_a_500_journaled_as_error(builtin, monkeypatch):
    monkeypatch.setattr(player, "play", broken_play)
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + CHAT, json=ask("hello")) as response:
            assert response.status == 500
            assert (await response.json())["error"]["type"] == "server_error"
        async with session.get(builtin.url + "/_mockllm/journal") as response:
            (entry,) = (await response.json())["entries"]
    assert (entry["status"], entry["outcome"], entry["scenario"]) == (500, "error", "hello")


async def test_a_bug_mid_stream_ends_the_connection_and_is_journaled_as_error(builtin, monkeypatch):
    async def broken_sender(request, response):
        await response.write(b"")  # the headers are out: no 500 can follow them
        raise RuntimeError(SECRET)

    monkeypatch.setattr(player, "_chunk_sender", broken_sender)
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + CHAT, json=ask("hello")) as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        monkeypatch.undo()
        async with session.get(builtin.url + "/_mockllm/journal") as response:
            (entry,) = (await response.json())["entries"]
        async with session.post(builtin.url + CHAT, json=ask("hello", stream=False)) as response:
            assert response.status == 200
    assert (entry["status"], entry["outcome"]) == (200, "error")
