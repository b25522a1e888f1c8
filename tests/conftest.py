"""Shared fixtures: real servers on loopback, started the one way the CLI does."""

from __future__ import annotations

import gc
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import openai
import pytest

from mockllm import server
from mockllm.library import load_library
from mockllm.state import Settings

from .redis_server import RedisServer
from .wire.upstream import Upstream, start_upstream

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs throwaway projects


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the whole session;
    ``.url()`` is a fresh group of keys each time, so tests share nothing."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a scenario file into a fresh folder: ``write_scenario("name", yaml)``."""
    folder = tmp_path / "scenarios"
    folder.mkdir()

    def write(name: str, text: str) -> Path:
        path = folder / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    write.folder = folder  # type: ignore[attr-defined]
    return write


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., server.RunningServer]]:
    """Start servers on 127.0.0.1 with ``await start_server(paths, **settings)``;
    each one is stopped when the test ends."""
    running: list[server.RunningServer] = []
    # As `mockllm serve` does once listening: the heap so far (by the suite's
    # end, 700k objects of pytest, the SDKs and earlier tests) is left out of
    # collections, so that a full one, measured at up to 1.5 s, cannot hold a
    # server and its clients mid-test. O(1) each way.
    gc.freeze()

    async def start(paths=(), default=None, **settings) -> server.RunningServer:
        library = load_library([str(p) for p in paths], default)
        instance = await server.start(Settings(library, **settings), "127.0.0.1", 0)
        running.append(instance)
        return instance

    try:
        yield start
        for instance in running:
            await instance.close()
    finally:
        gc.unfreeze()


@pytest.fixture
async def builtin(start_server) -> server.RunningServer:
    """A server on the built-in library, with delays divided by 50."""
    return await start_server(speed=50)


@pytest.fixture
async def client(builtin) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async OpenAI client pointed at ``builtin``, with no retries."""
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="sk-test", max_retries=0) as sdk:
        yield sdk


# --- The stand-in "real provider" (tests/wire/upstream.py) ------------------
# For the record and proxy tests: an upstream that answers as OpenAI, Anthropic
# and Gemini do, so that no test reaches the internet.


@pytest.fixture
async def real_upstream() -> AsyncIterator[Upstream]:
    """A stand-in upstream on 127.0.0.1: ``.url``, ``.requests`` (what it was sent),
    ``.gap`` and ``.time_to_headers`` (seconds), ``.fail``/``.error``/``.hang``/``.reset``/``.cut``
    for the next requests; stopped when the test ends."""
    upstream = await start_upstream()
    yield upstream
    await upstream.close()
