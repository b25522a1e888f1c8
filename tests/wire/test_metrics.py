"""GET /metrics: the Prometheus exposition of what a server served, under
the control plane's rule, read back with the client library's own parser."""

from __future__ import annotations

import aiohttp
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mockllm import metrics
from mockllm.library import load_library
from mockllm.server import start
from mockllm.state import Settings


async def scrape(server, headers: dict | None = None) -> tuple[int, dict[tuple[str, tuple], float], str]:
    """Status, every sample by (name, sorted labels), and the content type."""
    async with aiohttp.ClientSession() as session, session.get(server.url + "/metrics", headers=headers or {}) as r:
        text = await r.text()
        if r.status != 200:
            return r.status, {}, text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        return r.status, samples, r.headers["Content-Type"]


async def chat(server, model: str, retries: int = 0) -> None:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=retries) as sdk:
        try:
            stream = await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                       stream=True)
            async for _ in stream:
                pass
        except openai.APIError:
            pass


async def test_the_metrics_count_requests_outcomes_faults_retries_and_time(builtin):
    await chat(builtin, "hello")
    await chat(builtin, "drop-reset")
    await chat(builtin, "rate-limited-then-ok", retries=2)
    status, samples, content_type = await scrape(builtin)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")

    def requests(scenario: str, code: str) -> float:
        key = (("format", "openai"), ("route", "/v1/chat/completions"), ("scenario", scenario), ("status", code))
        return samples.get(("mockllm_requests_total", key), 0)

    assert requests("hello", "200") == 1 and requests("drop-reset", "200") == 1
    assert requests("rate-limited-then-ok", "429") == 2 and requests("rate-limited-then-ok", "200") == 1
    assert samples[("mockllm_outcomes_total", (("outcome", "completed"),))] == 4  # a 429 went out as planned
    assert samples[("mockllm_outcomes_total", (("outcome", "dropped"),))] == 1
    assert samples[("mockllm_faults_total", (("fault", "drop"),))] == 1
    assert samples[("mockllm_faults_total", (("fault", "status"),))] == 2
    assert samples[("mockllm_client_retries_total", ())] == 2  # the SDK's two retries
    assert samples[("mockllm_stream_duration_seconds_count", ())] == 5
    assert samples[("mockllm_time_to_first_byte_seconds_count", ())] == 5
    assert samples[("mockllm_open_streams", ())] == 0


async def test_an_open_stream_is_counted_while_it_plays(builtin):
    async with openai.AsyncOpenAI(base_url=builtin.base_url, api_key="k", max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model="stall-forever", messages=[{"role": "user", "content": "x"}],
                                                   stream=True)
        _, samples, _ = await scrape(builtin)
        assert samples[("mockllm_open_streams", ())] == 1
        await stream.close()


async def test_metrics_follow_the_control_planes_rule():
    settings = Settings(load_library(["builtin"]), admin_token="s3cret-token-for-metrics")
    server = await start(settings, "127.0.0.1", 0)
    try:
        assert (await scrape(server))[0] == 401
        assert (await scrape(server, {"Authorization": "Bearer wrong"}))[0] == 403
        assert (await scrape(server, {"Authorization": "Bearer s3cret-token-for-metrics"}))[0] == 200
        assert (await scrape(server, {"Origin": "https://evil.example"}))[0] == 403
    finally:
        await server.close()


@pytest.mark.parametrize("installed", [False, True], ids=["not-installed", "turned-off"])
async def test_without_metrics_the_route_says_why(start_server, monkeypatch, installed):
    if not installed:
        monkeypatch.setattr(metrics, "prometheus_client", None)
    server = await start_server(metrics=installed and False)
    status, _, text = await scrape(server)
    assert status == 501
    assert ("pip install 'mockllm[metrics]'" in text) != installed
