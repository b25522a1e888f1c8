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
async def test_one_folder_of_recordings_replays_each_format_byte_for_byte(start_server, tmp_path, stream):
    """The same question asked in every format: each file matches its own
    format (``match.format``), so one folder replays them all."""
    upstream = await start_server(speed=50)
    recorder = await start_server(upstream=Upstream(upstream.url), recording=Recording(tmp_path))
    examples = [dialect.example("hello", "Say hi", stream=stream) for dialect in FORMATS]
    recorded = [await fetch(recorder.url, example.path, example.body) for example in examples]
    assert [status for status, _, _ in recorded] == [200] * len(FORMATS)
    assert cli.main(["validate", str(tmp_path)]) == 0
    replay = await start_server([tmp_path])
    for dialect, example, expected in zip(FORMATS, examples, recorded):
        assert await fetch(replay.url, example.path, example.body) == expected, dialect.name
