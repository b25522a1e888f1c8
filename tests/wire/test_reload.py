"""Hot reload (``serve --reload``): edits, additions and deletions of scenario
files take effect on a running server; a broken edit is logged with its
``file:line`` and the last good scenarios keep serving; a stream in flight
keeps its text; scenarios added at run time survive."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from mockllm import reload, server
from mockllm.library import LiveLibrary, load_library
from mockllm.state import Settings

from .fault_clients import CHAT, ask, contents_of

DEADLINE = 5.0  # seconds: generous, so a loaded CI machine does not fail a test


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    """Poll every 50 ms instead of 500 ms: the same watcher, a faster suite."""
    monkeypatch.setattr(reload, "INTERVAL", 0.05)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    write(folder, "greet", "reply: {text: hello there}\n")
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def reloading(folder):
    """A server started the one way (``server.start``) with ``reload=True`` on ``folder``.

    ``Settings.paths`` is what a reload reads; conftest's ``start_server`` takes
    its own ``paths`` argument for the initial load only, so it is not used here.
    """
    settings = Settings(load_library([str(folder)]), paths=(str(folder),), reload=True)
    running = await server.start(settings, "127.0.0.1", 0)
    yield running
    await running.close()


async def reply_of(running, model: str) -> tuple[int, str | None]:
    """(status, content or None) of a ``stream: false`` request for ``model``."""
    async with aiohttp.ClientSession() as session:
        async with session.post(running.url + CHAT, json=ask(model, stream=False)) as response:
            data = await response.json()
            return response.status, data["choices"][0]["message"]["content"] if response.status == 200 else None


async def eventually(running, model: str, expected: tuple[int, str | None]) -> tuple[int, str | None]:
    """Ask for ``model`` until the answer is ``expected`` or the deadline passes; the last answer."""
    give_up = time.monotonic() + DEADLINE
    while True:
        got = await reply_of(running, model)
        if got == expected or time.monotonic() > give_up:
            return got
        await asyncio.sleep(0.02)


async def described(running, name: str, description: str) -> bool:
    """Whether the scenario list shows ``name`` with ``description`` before the deadline
    (asking the list, not the scenario, so a slow scenario does not slow the polling)."""
    give_up = time.monotonic() + DEADLINE
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < give_up:
            async with session.get(running.url + "/_mockllm/scenarios") as response:
                listed = {s["name"]: s["description"] for s in (await response.json())["scenarios"]}
            if listed.get(name) == description:
                return True
            await asyncio.sleep(0.02)
    return False


async def test_an_edited_file_takes_effect(reloading, folder):
    assert await reply_of(reloading, "greet") == (200, "hello there")
    write(folder, "greet", "reply: {text: edited greeting}\n")
    assert await eventually(reloading, "greet", (200, "edited greeting")) == (200, "edited greeting")


async def test_an_added_file_becomes_selectable(reloading, folder):
    assert (await reply_of(reloading, "extra"))[0] == 404  # no default: an unknown model is a 404
    write(folder, "extra", "reply: {text: newly here}\n")
    assert await eventually(reloading, "extra", (200, "newly here")) == (200, "newly here")


async def test_a_deleted_file_stops_being_selectable(reloading, folder):
    write(folder, "doomed", "reply: {text: still here}\n")
    assert await eventually(reloading, "doomed", (200, "still here")) == (200, "still here")
    (folder / "doomed.yaml").unlink()
    assert await eventually(reloading, "doomed", (404, None)) == (404, None)
    assert await reply_of(reloading, "greet") == (200, "hello there")


async def test_a_broken_edit_is_logged_with_file_and_line_and_the_last_good_version_keeps_serving(
    reloading, folder, caplog
):
    caplog.set_level(logging.ERROR, logger="mockllm")
    path = write(folder, "greet", "reply: {text: hello there}\ntiming: {per_token: 5x}\n")
    give_up = time.monotonic() + DEADLINE
    while not caplog.records and time.monotonic() < give_up:
        await asyncio.sleep(0.02)
    messages = [record.getMessage() for record in caplog.records if record.name == "mockllm"]
    assert any(f"{path}:2: timing.per_token" in message for message in messages), messages
    assert await reply_of(reloading, "greet") == (200, "hello there")

    write(folder, "greet", "reply: {text: fixed at last}\n")
    assert await eventually(reloading, "greet", (200, "fixed at last")) == (200, "fixed at last")


async def test_a_stream_in_flight_when_its_file_changes_completes_with_its_original_text(reloading, folder):
    tokens = [f" w{n}" for n in range(20)]
    write(folder, "long", f"description: v1\nreply: {{tokens: {json.dumps(tokens)}}}\ntiming: {{per_token: 100ms}}\n")
    assert await described(reloading, "long", "v1")

    received: list[str] = []
    first = asyncio.Event()

    async def read_stream() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(reloading.url + CHAT, json=ask("long")) as response:
                async for line in response.content:
                    received.extend(contents_of(line))
                    if received:
                        first.set()

    reader = asyncio.create_task(read_stream())
    await asyncio.wait_for(first.wait(), DEADLINE)
    write(folder, "long", "description: v2\nreply: {text: a different reply altogether}\n")
    assert await described(reloading, "long", "v2")
    # The reload happened while the stream (two seconds long) was still playing.
    # This orders the two; it bounds the reload at ~2 s only because a
    # 50 ms watcher that took that long would be broken, not slow.
    in_flight = not reader.done()
    await asyncio.wait_for(reader, DEADLINE)
    assert in_flight
    assert received == tokens
    assert await reply_of(reloading, "long") == (200, "a different reply altogether")


async def test_scenarios_added_at_run_time_survive_a_reload(reloading, folder):
    async with aiohttp.ClientSession() as session:
        async with session.post(reloading.url + "/_mockllm/scenarios", data="name: live\nreply: {text: added live}\n") as r:
            assert r.status == 201
    write(folder, "greet", "reply: {text: reloaded greeting}\n")
    assert await eventually(reloading, "greet", (200, "reloaded greeting")) == (200, "reloaded greeting")
    assert await reply_of(reloading, "live") == (200, "added live")


async def logged(caplog, text: str) -> list[str]:
    """The mockllm log messages, once one contains ``text`` or the deadline passes."""
    give_up = time.monotonic() + DEADLINE
    while True:
        messages = [record.getMessage() for record in caplog.records if record.name == "mockllm"]
        if any(text in message for message in messages) or time.monotonic() > give_up:
            return messages
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("reply: {text: hello there}\nseed: " + "9" * 5000 + "\n", 2),
        ("reply: {text: hello there}\ndescription: " + "[" * 5000 + "]" * 5000 + "\n", 2),
    ],
    ids=["5000-digit-seed", "5000-nested-lists"],
)
async def test_a_file_python_cannot_read_is_logged_and_later_edits_are_still_served(
    reloading, folder, caplog, text, line
):
    caplog.set_level(logging.ERROR, logger="mockllm")
    path = write(folder, "greet", text)
    messages = await logged(caplog, f"{path}:{line}: ")
    assert any(f"{path}:{line}: " in message for message in messages), messages
    assert await reply_of(reloading, "greet") == (200, "hello there")

    write(folder, "greet", "reply: {text: fixed at last}\n")
    assert await eventually(reloading, "greet", (200, "fixed at last")) == (200, "fixed at last")


async def test_the_watcher_outlives_any_error_and_logs_it_when_it_happens(reloading, folder, caplog, monkeypatch):
    caplog.set_level(logging.ERROR, logger="mockllm")
    real = LiveLibrary.load_files
    calls = []

    def fails_once(self):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug below the watcher")
        return real(self)

    monkeypatch.setattr(LiveLibrary, "load_files", fails_once)
    write(folder, "greet", "reply: {text: first edit}\n")
    await logged(caplog, "reload failed")
    [record] = [r for r in caplog.records if r.name == "mockllm"]
    assert record.exc_info is not None and "a bug below the watcher" in str(record.exc_info[1])
    assert await reply_of(reloading, "greet") == (200, "hello there")

    write(folder, "greet", "reply: {text: second edit}\n")
    assert await eventually(reloading, "greet", (200, "second edit")) == (200, "second edit")


async def test_a_slow_load_runs_off_the_event_loop_so_requests_keep_answering(reloading, folder, monkeypatch):
    real = LiveLibrary.load_files
    loading, loaded = threading.Event(), threading.Event()

    def slow(self):
        loading.set()
        time.sleep(3)  # a huge library: on the loop, every request would wait this long
        try:
            return real(self)
        finally:
            loaded.set()

    monkeypatch.setattr(LiveLibrary, "load_files", slow)
    write(folder, "greet", "reply: {text: slowly loaded}\n")
    assert await asyncio.to_thread(loading.wait, DEADLINE)
    waits = []
    async with aiohttp.ClientSession() as session:
        while not loaded.is_set():
            began = time.monotonic()
            async with session.get(reloading.url + "/_mockllm/health") as response:
                assert response.status == 200
            waits.append(time.monotonic() - began)
            await asyncio.sleep(0.05)
    assert len(waits) > 1 and max(waits) < 1.5, waits
    assert await eventually(reloading, "greet", (200, "slowly loaded")) == (200, "slowly loaded")


async def test_warnings_are_logged_on_reload_and_the_file_is_served(reloading, folder, caplog):
    caplog.set_level(logging.WARNING, logger="mockllm")
    path = write(folder, "greet", "reply: {text: slow greeting}\ntiming: {first_token: 12}\n")
    assert await eventually(reloading, "greet", (200, "slow greeting")) == (200, "slow greeting")
    expected = f"{path}:2: warning: timing.first_token: 12 with no unit means 12 seconds"
    messages = await logged(caplog, expected)
    assert any(expected in message for message in messages), messages
