"""mockllm record: each exchange with the upstream written as a scenario file
that passes ``validate`` and replays through ``serve`` byte for byte,
with its timing, and with no secret in it."""

from __future__ import annotations

import asyncio

import openai
import pytest
import yaml

from mockllm import cli
from mockllm.patterns import compile_pattern
from mockllm.recording import Recording, Timing
from mockllm.upstream import Upstream
from tests.docs import block_after, shows

from .proxied import ASK, BODY, FRAMES, SECRET, WORDS, journal, post


@pytest.fixture
def record(start_server, upstream, tmp_path):
    async def start(**options):
        return await start_server(upstream=Upstream(upstream.url), recording=Recording(tmp_path / "out", **options))
    return start


def recorded(folder) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]


def sleeps(document: dict) -> list[float]:
    return [float(step["sleep"].removesuffix("ms")) / 1000 for step in document["steps"] if "sleep" in step]


async def test_a_recorded_exchange_replays_through_serve_byte_for_byte(record, start_server, tmp_path, capsys):
    recorder = await record()
    async with openai.AsyncOpenAI(base_url=recorder.base_url, api_key=SECRET, max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model="gpt-5-nano", messages=[{"role": "user", "content": "Say hi"}],
                                                   stream=True)
        assert [p.choices[0].delta.content async for p in stream if p.choices][1:-1] == WORDS
    out = tmp_path / "out"
    [path] = out.glob("*.yaml")
    assert path.name == "001-say-hi.yaml"
    assert cli.main(["validate", str(path)]) == 0

    replay = await start_server([out])
    status, headers, reads = await post(replay.base_url + "/chat/completions", ASK)
    assert status == 200 and b"".join(reads) == BODY
    assert headers["Content-Type"].startswith("text/event-stream")
    [entry] = await journal(replay)
    assert entry["scenario"] == "001-say-hi"


async def test_the_recording_keeps_the_gaps_and_the_replay_plays_them(record, start_server, tmp_path):
    recorder = await record()
    await post(recorder.base_url + "/chat/completions", ASK)
    [document] = recorded(tmp_path / "out")
    gaps = sleeps(document)
    assert len(gaps) >= len(FRAMES) - 1 and sum(gaps) > 0.1  # 11 frames, 20 ms apart at the upstream

    replay = await start_server([tmp_path / "out"])
    loop = asyncio.get_running_loop()
    begun = loop.time()
    await post(replay.base_url + "/chat/completions", ASK)
    assert loop.time() - begun > sum(gaps) * 0.9  # the replay waits as the upstream did


@pytest.mark.parametrize(("timing", "most"), [("compress:4", 0.5), ("none", 0.0)])
async def test_timing_compress_divides_the_gaps_and_none_leaves_them_out(record, tmp_path, timing, most):
    recorder = await record(timing=Timing.parse(timing))
    await post(recorder.base_url + "/chat/completions", ASK)
    [document] = recorded(tmp_path / "out")
    gaps = sleeps(document)
    if most == 0:
        assert gaps == [] and "delay" not in document["response"]
    else:
        assert 0 < sum(gaps) < len(FRAMES) * 0.02 * most


async def test_no_secret_reaches_a_recording_even_where_the_upstream_echoes_it(record, tmp_path):
    recorder = await record(redact=(compile_pattern(r"req_\d+"),))
    refuse = {**ASK, "messages": [{"role": "user", "content": "refuse me"}]}
    status, headers, reads = await post(recorder.base_url + "/chat/completions", refuse,
                                        {"Authorization": f"Bearer {SECRET}", "Cookie": "session=abc"})
    assert status == 401 and SECRET.encode() in b"".join(reads)  # the client still gets what the upstream sent
    assert SECRET in headers["set-cookie"]
    [path] = (tmp_path / "out").glob("*.yaml")
    text = path.read_text()
    assert SECRET not in text and "session=abc" not in text and "set-cookie" not in text.lower()
    assert "req_1" not in text and "[REDACTED]" in text  # --redact took the request id too
    [document] = recorded(tmp_path / "out")
    assert document["response"]["status"] == 401


async def test_a_conversation_is_matched_by_its_question_and_its_turn(record, tmp_path):
    recorder = await record()
    later = {**ASK, "messages": [
        {"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "Again (twice)?"}]}
    await post(recorder.base_url + "/chat/completions", later)
    [document] = recorded(tmp_path / "out")
    assert document["match"] == {"prompt": r"^Again \(twice\)\?$", "format": "openai", "turn": 2}


async def test_takes_are_numbered_after_the_files_already_there(record, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "007-old.yaml").write_text("name: old\nreply: {text: hi}\n")
    recorder = await record()
    await post(recorder.base_url + "/chat/completions", ASK)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.yaml")) == ["007-old.yaml", "008-say-hi.yaml"]


async def test_the_readme_shows_a_file_as_record_writes_it(record, tmp_path):
    recorder = await record()
    await post(recorder.base_url + "/chat/completions", ASK)
    [path] = (tmp_path / "out").glob("*.yaml")
    written = path.read_text().replace(str(tmp_path / "out"), "recordings").splitlines()
    assert shows(block_after("message, its format (and its turn, in a conversation). One recorded OpenAI stream:", "yaml").splitlines(), written)


async def test_faults_added_to_a_recording_count_its_real_tokens(record, start_server, tmp_path):
    recorder = await record()
    await post(recorder.base_url + "/chat/completions", ASK)
    [path] = (tmp_path / "out").glob("*.yaml")
    path.write_text(path.read_text() + "faults: [{drop: {after: 3}}, no_done]\n")
    replay = await start_server([path])
    async with openai.AsyncOpenAI(base_url=replay.base_url, api_key="k", max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "Say hi"}],
                                                   stream=True)
        got = []
        with pytest.raises(openai.APIConnectionError):
            async for part in stream:
                got += [part.choices[0].delta.content] if part.choices and part.choices[0].delta.content else []
    assert got == WORDS[:3]
    [entry] = await journal(replay)
    assert entry["tokens"] == 3 and entry["faults"] == ["no_done", "drop(after=3)"]  # in the fault order


async def test_the_same_question_recorded_twice_is_written_twice_and_logged(record, tmp_path, caplog):
    recorder = await record()
    await post(recorder.base_url + "/chat/completions", ASK)
    await post(recorder.base_url + "/chat/completions", ASK)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.yaml")) == ["001-say-hi.yaml", "002-say-hi.yaml"]
    assert "002-say-hi.yaml matches the same requests as 001-say-hi.yaml, which a replay serves first" in caplog.text
