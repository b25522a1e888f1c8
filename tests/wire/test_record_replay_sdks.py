"""``mockllm record`` in front of a stand-in provider (``upstream.py``), driven by
each official SDK; then ``serve`` replays what it wrote. The SDK sees the same
reply both times, the replayed body is the provider's recorded bytes, and no
written file holds the API key or the provider's cookie.

    SDK ─▶ record ─▶ stand-in (recorded bytes, gaps)      files ─▶ serve ─▶ SDK, aiohttp
"""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest
import yaml

from mockllm.recording import Recording
from mockllm.upstream import Upstream

from .provider_clients import SDKS, SECRETS, Seen, anthropic_sees, gemini_sees, openai_sees, raw_body
from .upstream import KEYS, RECORDINGS, body


def written(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


@pytest.mark.parametrize(("provider", "prompt", "streamed"), list(RECORDINGS),
                         ids=[f"{p}-{'stream' if s else 'whole'}-{q}" for p, q, s in RECORDINGS])
async def test_a_recorded_exchange_replays_the_same_to_the_sdk_and_byte_for_byte(
        start_server, real_upstream, tmp_path, provider, prompt, streamed):
    recording = RECORDINGS[(provider, prompt, streamed)]
    expected: Seen = (recording.text, list(recording.tool_calls))
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    sees = SDKS[provider]
    assert await sees(recorder.url, SECRETS[provider], prompt, streamed) == expected
    [path] = written(out)

    replay = await start_server([out])
    assert await sees(replay.url, "any-key", prompt, streamed) == expected
    assert await raw_body(replay.url, provider, prompt, streamed) == body(provider, prompt, streamed)

    text = path.read_text(encoding="utf-8")
    assert SECRETS[provider] not in text
    assert "upstreamCOOKIE" not in text


async def test_two_questions_make_two_files_each_replayed_for_its_own_question(start_server, real_upstream, tmp_path):
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    for prompt in ("Hello!", "Tell me a joke"):
        await openai_sees(recorder.url, KEYS["openai"], prompt, True)
    assert len(written(out)) == 2

    replay = await start_server([out])
    for prompt in ("Tell me a joke", "Hello!"):
        assert await raw_body(replay.url, "openai", prompt, True) == body("openai", prompt)


async def test_the_recorder_forwards_the_key_and_a_refusal_is_recorded_without_it(start_server, real_upstream,
                                                                                  tmp_path):
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    await anthropic_sees(recorder.url, KEYS["anthropic"], "Tell me a joke", True)
    with pytest.raises(anthropic.AuthenticationError):
        await anthropic_sees(recorder.url, "sk-ant-wrong-key-0123456789", "Tell me a joke", True)
    sent = [seen.headers.get("Authorization") or seen.headers.get("x-api-key") for seen in real_upstream.requests]
    assert sent == [f"Bearer {KEYS['anthropic']}", "Bearer sk-ant-wrong-key-0123456789"]
    texts = [path.read_text(encoding="utf-8") for path in written(out)]
    assert texts and not any(KEYS["anthropic"] in text or "wrong-key" in text for text in texts)


async def test_the_recorded_gaps_are_the_upstreams(start_server, real_upstream, tmp_path):
    """Lower bound only: each recorded sleep is at least most of the stand-in's gap."""
    real_upstream.gap = 0.05
    out = tmp_path / "out"
    recorder = await start_server(upstream=Upstream(real_upstream.url), recording=Recording(out))
    await gemini_sees(recorder.url, KEYS["gemini"], "What is the capital of Mexico?", True)
    [path] = written(out)
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]
    gaps = [float(step["sleep"].removesuffix("ms")) / 1000 for step in steps if "sleep" in step]
    frames = RECORDINGS[("gemini", "What is the capital of Mexico?", True)].frames
    assert sum(gap >= 0.04 for gap in gaps) >= len(frames) - 1
