"""``mockllm proxy`` in front of a stand-in provider (``upstream.py``): the
provider's own frames (Anthropic's padded JSON, Gemini's CRLF frames, Ollama's
lines) pass through untouched to each official SDK when no fault is asked,
and a fault asked by header acts on those real frames.
"""

from __future__ import annotations

import httpx
import httpx2
import openai
import pytest

from mockllm.upstream import Upstream

from . import anthropic_raises
from .provider_clients import SDKS, SECRETS, raw_body
from .upstream import RECORDINGS, STREAMS, body

each_recording = pytest.mark.parametrize(("provider", "prompt", "streamed"), list(RECORDINGS),
                                         ids=[f"{p}-{'stream' if s else 'whole'}-{q}" for p, q, s in RECORDINGS])
# What each SDK raises when a stream it reads is reset after its first token
# (wire-format.md §7.1, §5, §13.6, §14.5).
RESET_RAISES = {"openai": openai.APIConnectionError, "anthropic": anthropic_raises.RESET, "gemini": httpx2.ReadError,
                "ollama": httpx.ReadError}


@pytest.fixture
async def proxy(start_server, real_upstream):
    return await start_server(upstream=Upstream(real_upstream.url))


@each_recording
async def test_without_faults_the_proxy_passes_the_providers_reply_through(proxy, provider, prompt, streamed):
    recording = RECORDINGS[(provider, prompt, streamed)]
    seen = await SDKS[provider](proxy.url, SECRETS[provider], prompt, streamed)
    assert seen == (recording.text, list(recording.tool_calls))
    assert await raw_body(proxy.url, provider, prompt, streamed) == body(provider, prompt, streamed)


# A one-token reply ("Tell me a joke") too: the live drop holds the finish and
# [DONE] behind its token until it knows no more content comes, as serve does.
@pytest.mark.parametrize(("provider", "prompt"), list(STREAMS), ids=[f"{p}-{q}" for p, q in STREAMS])
async def test_a_drop_asked_by_header_resets_the_real_stream_after_its_first_token(
        proxy, real_upstream, provider, prompt):
    sees = SDKS[provider]
    with pytest.raises(RESET_RAISES[provider]):
        await sees(proxy.url, SECRETS[provider], prompt, True, headers={"X-Mockllm-Faults": "drop(after=1)"})
    assert len(real_upstream.requests) == 1  # a cut stream is never retried
