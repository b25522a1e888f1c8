"""Fixtures of the proxy and record tests: the stand-in upstream and proxies in front of it."""

from __future__ import annotations

import json

import pytest
import yaml

from mockllm.upstream import Upstream

from .proxied import FRAMES, GAP, SECRET


@pytest.fixture
async def upstream(start_server, write_scenario):
    """The stand-in provider: every request answered with ``FRAMES``, ``GAP`` apart."""
    steps = [step for frame in FRAMES for step in ({"sleep": GAP}, {"raw": frame})]
    write_scenario("real", yaml.safe_dump({"name": "real", "steps": steps}, allow_unicode=True))
    breaking = [{"sleep": GAP}, {"raw": FRAMES[0]}, {"raw": FRAMES[1]}, {"close": "reset"}]
    write_scenario("breaks", yaml.safe_dump({"name": "breaks", "match": {"prompt": "break"}, "steps": breaking}))
    # Two frames, a read apart, then a silence far longer than the proxy's tests wait for it.
    quiet = [{"raw": FRAMES[0]}, {"sleep": "50ms"}, {"raw": FRAMES[1]}, {"sleep": "30s"}, {"raw": FRAMES[2]}]
    write_scenario("quiet", yaml.safe_dump({"name": "quiet", "match": {"prompt": "quiet"}, "steps": quiet}))
    write_scenario("hangs", "name: hangs\nmatch: {prompt: hang}\nreply: {text: late}\n"
                                 "faults: [{stall: {before: headers}}]\n")
    # A provider that refuses a key, echoing it, and sets a cookie (as Cloudflare does).
    refusal = {"error": {"message": f"Incorrect API key provided: {SECRET}.", "type": "invalid_request_error",
                         "param": None, "code": "invalid_api_key"}}
    write_scenario("refuses", yaml.safe_dump({
        "name": "refuses", "match": {"prompt": "refuse"},
        "response": {"status": 401, "headers": {"set-cookie": f"__cf_bm={SECRET}; path=/", "x-request-id": "req_1"}},
        "steps": [{"raw": json.dumps(refusal)}],
    }))
    return await start_server([write_scenario.folder], default="real")


@pytest.fixture
async def proxy(start_server, upstream):
    async def start(**settings):
        return await start_server(upstream=Upstream(upstream.url, **settings.pop("upstream_options", {})), **settings)
    return start


