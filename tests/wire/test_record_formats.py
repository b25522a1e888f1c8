"""Every streaming format records and replays byte for byte: each format's own
request (``Dialect.example``) through ``mockllm record`` in front of a mockllm
upstream, then the written file through ``serve``, streamed and not."""

from __future__ import annotations

import aiohttp
import pytest

from mockllm import cli
from mockllm.dialects import DIALECTS
from mockllm.recording import Recording
from mockllm.upstream import Upstream

FORMATS = [d for d in DIALECTS.values() if d.streams and d.routes]  # content has no route of its own: a mount


async def fetch(url: str, path: str, body: dict) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as response:
        return response.status, response.headers["Content-Type"], await response.read()


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("dialect", FORMATS, ids=[d.name for d in FORMATS])
async def test_a_recorded_exchange_replays_byte_for_byte_in_every_format(start_server, tmp_path, dialect, stream):
    upstream = await start_server(speed=50)
    recorder = await start_server(upstream=Upstream(upstream.url), recording=Recording(tmp_path))
    example = dialect.example("hello", "Say hi", stream=stream)
    recorded = await fetch(recorder.url, example.path, example.body)
    assert recorded[0] == 200
    [path] = tmp_path.glob("*.yaml")
    assert cli.main(["validate", str(path)]) == 0
    replay = await start_server([path])
    assert await fetch(replay.url, example.path, example.body) == recorded
