"""``serve --mount PATH=FORMAT``: a front end's own backend route, served by mockllm.

A front end posts ``{"message": ...}`` or ``{"messages": [...]}`` to its own
``/api/chat`` and reads ``{"content": ...}`` frames (or OpenAI chunks); with a
mount it runs against mockllm unmodified. The scenario is chosen by the
``X-Mockllm-Scenario`` header, ``?scenario=``, or the message and ``match``
rules; ``GET`` on the same path is the EventSource stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import types

import aiohttp
import pytest

from mockllm import cli

from .test_eventsource_route import get, ids, journal, text_of

CONTENT = (("/api/chat", "content"),)
OPENAI = (("/api/openai", "openai"),)
BOTH = CONTENT + OPENAI
PLAIN = 'reply: {tokens: ["One", " two", " three"]}\n'
POEM = 'match: {prompt: "(?i)poem"}\nreply: {tokens: ["Roses", " are", " red"]}\n'
POEM_BODY = (
    b'data: {"content":"Roses"}\n\n'
    b'data: {"content":" are"}\n\n'
    b'data: {"content":" red"}\n\n'
    b"data: [DONE]\n\n"
)  # no finish or usage frame: a tutorial reader would append "undefined" for them
PLAIN_BODY = POEM_BODY.replace(b"Roses", b"One").replace(b" are", b" two").replace(b" red", b" three")


@pytest.fixture
async def serve(start_server, write_scenario):
    """``await serve(mounts, default="plain")``: a server on ``plain`` and ``poem``
    (and any extra ``name=yaml``) with those mounts."""

    async def start(mounts=CONTENT, default: str | None = "plain", **extra: str):
        for name, text in {"plain": PLAIN, "poem": POEM, **extra}.items():
            write_scenario(name, text)
        return await start_server([write_scenario.folder], default, mounts=mounts)

    return start


async def post(server, path: str, body, *, query: str = "", **headers: str):
    """POST ``body`` (JSON, or raw bytes) and return (status, headers, body, error)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **headers}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + path + query, data=data, headers=headers) as response:
            received, error = b"", None
            try:
                async for chunk in response.content.iter_any():
                    received += chunk
            except aiohttp.ClientError as exc:
                error = exc
            return response.status, response.headers.copy(), received, error


def chunks_of(body: bytes) -> list:
    payloads = [line[len(b"data: ") :] for line in body.split(b"\n") if line.startswith(b"data: ")]
    return [p.decode() if p == b"[DONE]" else json.loads(p) for p in payloads]


# -- POST, content format -------------------------------------------------------------


async def test_a_message_selects_by_match_and_streams_content_frames_exactly(serve):
    server = await serve()
    status, headers, body, error = await post(server, "/api/chat", {"message": "Write me a POEM"})
    assert (status, error) == (200, None)
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert headers["X-Mockllm-Scenario"] == "poem"
    assert body == POEM_BODY  # no retry line and no ids: this is a fetch stream
    assert all("content" in frame for frame in chunks_of(body)[:-1])  # every frame but [DONE]


@pytest.mark.parametrize(
    ("messages", "scenario"),
    [
        ([{"role": "user", "content": "a poem please"}], "poem"),
        ([{"role": "user", "content": "a poem please"}, {"role": "assistant", "content": "hi"}], "poem"),
        ([{"role": "user", "content": "a poem please"}, {"role": "user", "content": "hello"}], "plain"),
        ([{"role": "system", "content": "poem"}, {"role": "user", "content": "hello"}], "plain"),
        (["write a poem"], "poem"),
    ],
    ids=["one-user", "last-user-before-assistant", "last-user-wins", "system-ignored", "bare-strings"],
)
async def test_messages_select_by_the_last_user_message(serve, messages, scenario):
    server = await serve()
    status, headers, body, _ = await post(server, "/api/chat", {"messages": messages})
    assert status == 200
    assert headers["X-Mockllm-Scenario"] == scenario
    assert body == (POEM_BODY if scenario == "poem" else PLAIN_BODY)


async def test_an_unmatched_message_gets_the_default(serve):
    server = await serve()
    status, headers, body, _ = await post(server, "/api/chat", {"message": "hello"})
    assert (status, headers["X-Mockllm-Scenario"], body) == (200, "plain", PLAIN_BODY)


async def test_an_unmatched_message_without_a_default_is_a_404_listing_the_names(serve):
    server = await serve(default=None)
    status, headers, body, _ = await post(server, "/api/chat", {"message": "hello"})
    assert status == 404
    error = json.loads(body)["error"]
    assert error["code"] == "scenario_not_found"
    assert error["message"].endswith("Known scenarios: plain, poem.")


async def test_the_header_selects_over_the_match_rules(serve):
    server = await serve()
    _, headers, body, _ = await post(server, "/api/chat", {"message": "a poem"}, **{"X-Mockllm-Scenario": "plain"})
    assert (headers["X-Mockllm-Scenario"], body) == ("plain", PLAIN_BODY)


async def test_the_scenario_query_selects_over_the_match_rules(serve):
    server = await serve()
    _, headers, body, _ = await post(server, "/api/chat", {"message": "a poem"}, query="?scenario=plain")
    assert (headers["X-Mockllm-Scenario"], body) == ("plain", PLAIN_BODY)


async def test_the_header_wins_over_the_scenario_query(serve):
    server = await serve()
    _, headers, _, _ = await post(
        server, "/api/chat", {"message": "x"}, query="?scenario=plain", **{"X-Mockllm-Scenario": "poem"}
    )
    assert headers["X-Mockllm-Scenario"] == "poem"


@pytest.mark.parametrize("how", ["header", "query"])
async def test_an_unknown_scenario_name_is_a_404(serve, how):
    server = await serve()
    if how == "header":
        status, _, body, _ = await post(server, "/api/chat", {"message": "x"}, **{"X-Mockllm-Scenario": "nope"})
    else:
        status, _, body, _ = await post(server, "/api/chat", {"message": "x"}, query="?scenario=nope")
    assert status == 404
    assert json.loads(body)["error"]["message"] == "No scenario named 'nope'. Known scenarios: plain, poem."


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        (b"{not json", None, "could not parse the JSON body"),
        (b"\xff\xfe", None, "not valid UTF-8"),
        ([], None, "must be a JSON object"),
        ("hello", None, "must be a JSON object"),
        ({}, "message", "Send 'message'"),
        ({"text": "hi"}, "message", "Send 'message'"),
        ({"message": 5}, "message", "'message' must be a string"),
        ({"message": None, "messages": "hi"}, "messages", "'messages' must be a list"),
    ],
    ids=["not-json", "not-utf8", "array", "string", "empty-object", "other-key", "message-number", "messages-string"],
)
async def test_a_bad_body_is_a_400_in_the_openai_error_shape(serve, body, param, needle):
    server = await serve()
    status, headers, received, _ = await post(server, "/api/chat", body)
    assert status == 400
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    error = json.loads(received)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert needle in error["message"]


async def test_the_journal_records_the_mounted_route_and_the_body(serve):
    server = await serve()
    await post(server, "/api/chat", {"message": "a poem"})
    [entry] = await journal(server)
    assert (entry["method"], entry["route"], entry["status"], entry["scenario"]) == ("POST", "/api/chat", 200, "poem")
    assert entry["request"] == {"message": "a poem"}
    assert (entry["outcome"], entry["tokens"]) == ("completed", 3)


# -- POST, openai format -------------------------------------------------------------


async def test_the_openai_format_streams_chat_chunks(serve):
    server = await serve(OPENAI)
    status, headers, body, _ = await post(server, "/api/openai", {"message": "a poem"})
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    chunks = chunks_of(body)
    assert chunks[-1] == "[DONE]"
    assert {c["object"] for c in chunks[:-1]} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks[:-1]} == {"poem"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == "Roses are red"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert b"id: " not in body and b"retry:" not in body


async def test_the_openai_format_keeps_a_model_named_in_the_body(serve):
    server = await serve(OPENAI)
    _, headers, body, _ = await post(server, "/api/openai", {"message": "hello", "model": "poem"})
    assert headers["X-Mockllm-Scenario"] == "poem"
    assert {c["model"] for c in chunks_of(body)[:-1]} == {"poem"}


# -- GET: the EventSource stream at a mount ---------------------------------------------------


async def test_get_at_a_content_mount_is_the_eventsource_stream(serve):
    server = await serve()
    got = await get(server, "/api/chat?prompt=a+poem")
    assert got.status == 200
    assert got.headers["X-Mockllm-Scenario"] == "poem"
    assert got.body == b"retry: 1000\n\n" + b"".join(
        b"id: %d\n" % n + frame + b"\n\n" for n, frame in enumerate(POEM_BODY.split(b"\n\n")[:-1], 1)
    )


@pytest.mark.parametrize(
    ("query", "headers", "scenario"),
    [
        ("", {}, "plain"),
        ("?prompt=poem", {}, "poem"),
        ("?prompt=poem&scenario=plain", {}, "plain"),
        ("?scenario=plain", {"X-Mockllm-Scenario": "poem"}, "poem"),
    ],
    ids=["default", "prompt-matches", "query-over-prompt", "header-over-query"],
)
async def test_get_at_a_mount_selects_by_header_query_or_prompt(serve, query, headers, scenario):
    server = await serve()
    got = await get(server, "/api/chat" + query, **headers)
    assert got.headers["X-Mockllm-Scenario"] == scenario


async def test_get_at_a_mount_resumes_and_ends_with_204(serve):
    server = await serve()
    got = await get(server, "/api/chat?prompt=poem", **{"Last-Event-ID": "2"})
    assert ids(got.messages) == ["3", "4"]
    assert got.messages[-1].data == "[DONE]"
    assert text_of(got.messages) == " red"
    done = await get(server, "/api/chat?prompt=poem", **{"Last-Event-ID": "4"})
    assert (done.status, done.body) == (204, b"")
    assert [e["attempt"] for e in await journal(server)] == [1, 2]


async def test_get_at_an_openai_mount_is_numbered_chat_chunks(serve):
    server = await serve(OPENAI)
    got = await get(server, "/api/openai?scenario=poem")
    assert got.body.startswith(b"retry: 1000\n\nid: 1\n")
    assert ids(got.messages) == ["1", "2", "3", "4", "5", "6"]
    assert got.messages[1].json()["object"] == "chat.completion.chunk"
    assert text_of(got.messages) == "Roses are red"


# -- several mounts, faults, CORS ----------------------------------------------------------


async def test_two_mounts_at_once_each_speak_their_format(serve):
    server = await serve(BOTH)
    _, _, content_body, _ = await post(server, "/api/chat", {"message": "poem"})
    _, _, openai_body, _ = await post(server, "/api/openai", {"message": "poem"})
    assert content_body == POEM_BODY
    assert chunks_of(openai_body)[1]["choices"][0]["delta"]["content"] == "Roses"
    async with aiohttp.ClientSession() as session:  # the provider route is still there
        async with session.post(
            server.url + "/v1/chat/completions",
            json={"model": "plain", "messages": [{"role": "user", "content": "x"}], "stream": True},
        ) as response:
            assert response.status == 200
            assert b'"content":"One"' in await response.read()
    assert [e["route"] for e in await journal(server)] == ["/api/chat", "/api/openai", "/v1/chat/completions"]


async def test_faults_apply_at_a_mount(serve):
    server = await serve(
        flaky=PLAIN + "attempts: [{faults: [{drop: {after: 2}}]}, {faults: [{fragment: {bytes: 7}}]}]\n"
    )
    _, headers, body, error = await post(server, "/api/chat", {"message": "x"}, query="?scenario=flaky")
    assert error is not None
    assert headers["X-Mockllm-Faults"] == "drop(after=2)"
    assert body == b'data: {"content":"One"}\n\ndata: {"content":" two"}\n\n'
    _, headers, body, error = await post(server, "/api/chat", {"message": "x"}, query="?scenario=flaky")
    assert (headers["X-Mockllm-Attempt"], headers["X-Mockllm-Faults"], error) == ("2", "fragment", None)
    assert body == PLAIN_BODY


async def test_a_mount_answers_a_cross_origin_preflight(serve):
    server = await serve()
    async with aiohttp.ClientSession() as session:
        async with session.options(
            server.url + "/api/chat",
            headers={
                "Origin": "http://127.0.0.2:9",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        ) as response:
            assert response.status == 204
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
            assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
            assert response.headers["Access-Control-Allow-Origin"] == "*"


# -- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/api/chat", "expected PATH=FORMAT"),
        ("/api/chat=xml", "expected PATH=FORMAT"),
        ("/api/chat=", "expected PATH=FORMAT"),
        ("api/chat=content", "expected PATH=FORMAT"),
        ("=content", "expected PATH=FORMAT"),
        ("/v1/chat/completions=openai", "is one of mockllm's own routes"),
        ("/v1/stream/x=content", "is one of mockllm's own routes"),
        ("/_mockllm/x=content", "is one of mockllm's own routes"),
        ("/=content", "is one of mockllm's own routes"),
    ],
    ids=["no-equals", "bad-format", "empty-format", "relative", "no-path", "v1-chat", "v1-stream", "control", "root"],
)
def test_a_bad_mount_is_an_argparse_error(value, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--port", "0", "--mount", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --mount" in err
    assert message in err


@pytest.mark.parametrize(
    ("mounts", "message"),
    [
        (["/api/chat=content", "/api/chat=openai"], "/api/chat is mounted twice (content, then openai)"),
        (["/api/chat=content", "/api/chat=content"], "/api/chat is mounted twice (content, then content)"),
        (
            ["/api/chat=content", "/api/openai=openai", "/api/openai=content"],
            "/api/openai is mounted twice (openai, then content)",
        ),
    ],
    ids=["other-format", "same-format", "third-repeats-second"],
)
def test_a_repeated_mount_path_is_an_argparse_error(mounts, message, capsys):
    argv = ["serve", "--port", "0"]
    for mount in mounts:
        argv += ["--mount", mount]
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --mount" in err
    assert message in err
    assert "Traceback" not in err


def test_paths_that_differ_are_separate_mounts():
    args = cli._parser().parse_args(
        ["serve", "--mount", "/api/chat=content", "--mount", "/api/chat/=openai", "--mount", "/api/other=content"]
    )
    assert args.mount == [("/api/chat", "content"), ("/api/chat/", "openai"), ("/api/other", "content")]
    assert cli._parser().parse_args(["serve"]).mount == []


async def test_serve_with_two_mounts_as_a_real_process(tmp_path):
    (tmp_path / "poem.yaml").write_text(POEM, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mockllm", "serve", "--port", "0", "--scenarios", str(tmp_path),
        "--mount", "/api/chat=content", "--mount", "/api/openai=openai",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        found = re.fullmatch(r"mockllm listening on (http://127\.0\.0\.1:\d+)\n", first)
        assert found, f"unexpected first line {first!r}; stderr: {(await process.stderr.read()).decode()}"
        server = types.SimpleNamespace(url=found[1])
        _, _, body, _ = await post(server, "/api/chat", {"message": "a poem"})
        assert body == POEM_BODY
        _, _, body, _ = await post(server, "/api/openai", {"messages": [{"role": "user", "content": "poem"}]})
        assert text_of_chunks(body) == "Roses are red"
        got = await get(server, "/api/chat?prompt=poem")
        assert text_of(got.messages) == "Roses are red"
    finally:
        process.terminate()
        await process.wait()


def text_of_chunks(body: bytes) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks_of(body) if c != "[DONE]")


@pytest.mark.parametrize(
    ("mounts", "message"),
    [
        ((("/api/chat", "content"), ("/api/chat", "openai")), "/api/chat is mounted twice (content, then openai)"),
        ((("/v1/mine", "content"),), "/v1/mine is one of mockllm's own routes"),
        ((("api/chat", "content"),), "a mount path starts with /"),
        ((("/api/chat", "xml"),), "unknown format 'xml'"),
    ],
    ids=["repeated", "own-route", "relative", "bad-format"],
)
async def test_settings_with_a_bad_mount_refuse_to_start_with_a_clear_error(start_server, mounts, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        await start_server(mounts=mounts)
