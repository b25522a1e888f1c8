"""Web pages cannot drive the control plane: a foreign ``Origin`` or ``Host`` on
a ``/_mockllm/`` route is a 403 in the API's error shape that changes nothing,
whatever the media type; tools that send no ``Origin`` (curl, the SDKs) and the
server's own pages keep working; ``--allow-origin`` / ``--allow-host`` widen it.
The API routes keep answering every origin with CORS ``*``."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from .fault_clients import CHAT, ask

EVIL = "http://evil.example"
FRONT_END = "http://localhost:5173"
ERROR_KEYS = {"message", "type", "param", "code"}
HIJACK = "name: hello\nreply: {text: 'owned by a web page'}\n"

# (method, path, body, content type, success status) for every control route
CONTROL_ROUTES = [
    ("GET", "/_mockllm/health", None, None, 200),
    ("GET", "/_mockllm/scenarios", None, None, 200),
    ("POST", "/_mockllm/scenarios", HIJACK, "text/plain", 200),
    ("POST", "/_mockllm/scenarios", "name=hello&reply=x", "application/x-www-form-urlencoded", 200),
    ("POST", "/_mockllm/scenarios", json.dumps({"name": "hello", "reply": {"text": "owned"}}),
     "application/json", 200),
    ("DELETE", "/_mockllm/scenarios/hello", None, None, 204),
    ("GET", "/_mockllm/journal", None, None, 200),
    ("POST", "/_mockllm/reset", None, None, 204),
]
ROUTE_IDS = ["health", "list", "add-text-plain", "add-form", "add-json", "delete", "journal", "reset"]
# What a tool sends: a form body is no scenario, so that one is left out.
TOOL_ROUTES = [(route, id_) for route, id_ in zip(CONTROL_ROUTES, ROUTE_IDS) if id_ != "add-form"]


async def call(url: str, method: str, path: str, body=None, **headers: str):
    """(status, headers, JSON body or None)."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url + path, data=body, headers=headers) as response:
            data = await response.read()
            return response.status, response.headers, json.loads(data) if data else None


def send(url, method, path, body, content_type, **headers):
    if content_type:
        headers["Content-Type"] = content_type
    return call(url, method, path, body, **headers)


async def hello_reply(url: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(url + CHAT, json=ask("hello", stream=False)) as response:
            assert response.status == 200
            return (await response.json())["choices"][0]["message"]["content"]


def authority(running) -> str:
    return f"127.0.0.1:{running.port}"


# -- a foreign Origin --------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body", "content_type", "ok"), CONTROL_ROUTES, ids=ROUTE_IDS)
async def test_a_foreign_origin_is_refused_403_and_changes_nothing(builtin, method, path, body, content_type, ok):
    before = await hello_reply(builtin.url)
    status, headers, data = await send(builtin.url, method, path, body, content_type, Origin=EVIL)
    assert status == 403
    assert set(data["error"]) == ERROR_KEYS
    assert data["error"]["code"] == "origin_not_allowed"
    assert "Origin" in data["error"]["message"] and "--allow-origin" in data["error"]["message"]
    assert "Access-Control-Allow-Origin" not in headers
    assert await hello_reply(builtin.url) == before
    _, _, listed = await call(builtin.url, "GET", "/_mockllm/scenarios")
    assert "hello" in [s["name"] for s in listed["scenarios"]]


@pytest.mark.parametrize(("method", "path", "body", "content_type", "ok"), [route for route, _ in TOOL_ROUTES],
                         ids=[id_ for _, id_ in TOOL_ROUTES])
async def test_a_tool_that_sends_no_origin_is_served(builtin, method, path, body, content_type, ok):
    status, headers, _ = await send(builtin.url, method, path, body, content_type)
    assert status == ok
    assert "Access-Control-Allow-Origin" not in headers


async def test_the_servers_own_origin_is_served_without_a_cors_grant(builtin):
    own = f"http://{authority(builtin)}"
    status, headers, data = await call(builtin.url, "POST", "/_mockllm/scenarios", HIJACK, Origin=own)
    assert (status, data) == (200, {"name": "hello", "replaced": True, "warnings": []})
    assert "Access-Control-Allow-Origin" not in headers
    assert await hello_reply(builtin.url) == "owned by a web page"


@pytest.mark.parametrize("origin", ["null", "not an origin", "http://127.0.0.1:1", "https://evil.example:443"],
                         ids=["null", "junk", "other-port", "other-https-host"])
async def test_origins_that_are_not_the_servers_own_are_foreign(builtin, origin):
    status, _, data = await call(builtin.url, "GET", "/_mockllm/journal", Origin=origin)
    assert status == 403
    assert data["error"]["code"] == "origin_not_allowed"


async def test_an_allowed_origin_is_served_and_granted_cors_for_itself_only(start_server):
    running = await start_server(speed=50, allow_origins=(FRONT_END + "/",))
    status, headers, data = await call(running.url, "GET", "/_mockllm/journal", Origin=FRONT_END)
    assert status == 200 and data == {"entries": []}
    assert headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "Origin" in headers["Vary"]
    status, headers, _ = await call(running.url, "GET", "/_mockllm/journal", Origin=EVIL)
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers


# -- preflights --------------------------------------------------------------

def preflight_headers(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization"}


@pytest.mark.parametrize("path", ["/_mockllm/scenarios", "/_mockllm/reset", "/_mockllm/nope"],
                         ids=["scenarios", "reset", "unknown-control-path"])
async def test_a_preflight_from_a_foreign_origin_gets_no_grant(builtin, path):
    status, headers, data = await call(builtin.url, "OPTIONS", path, **preflight_headers(EVIL))
    assert status == 403
    assert data["error"]["code"] == "origin_not_allowed"
    assert not any(name.lower().startswith("access-control-allow") for name in headers)


async def test_a_preflight_from_an_allowed_origin_is_granted_for_that_origin(start_server):
    running = await start_server(speed=50, allow_origins=(FRONT_END,))
    status, headers, _ = await call(running.url, "OPTIONS", "/_mockllm/scenarios", **preflight_headers(FRONT_END))
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "authorization" in headers["Access-Control-Allow-Headers"].lower()
    assert "post" in headers["Access-Control-Allow-Methods"].lower()


async def test_the_api_routes_still_grant_every_origin(builtin):
    status, headers, _ = await call(builtin.url, "OPTIONS", CHAT, **preflight_headers(EVIL))
    assert (status, headers["Access-Control-Allow-Origin"]) == (204, "*")
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + CHAT, json=ask("hello", stream=False), headers={"Origin": EVIL}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == "*"


# -- the Host header -----------------------------------------------------------

@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1.nip.io:{port}", "localhost.evil.example:{port}"],
    ids=["rebound-name", "rebound-name-no-port", "name-resolving-to-builtin", "localhost-prefix"],
)
async def test_a_foreign_host_is_refused_on_the_control_routes(builtin, host):
    host = host.format(port=builtin.port)
    status, headers, data = await call(builtin.url, "POST", "/_mockllm/scenarios", HIJACK,
                                       Host=host, **{"Content-Type": "text/plain"})
    assert status == 403
    assert set(data["error"]) == ERROR_KEYS
    assert data["error"]["code"] == "host_not_allowed"
    assert "Host" in data["error"]["message"] and "--allow-host" in data["error"]["message"]
    assert await hello_reply(builtin.url) != "owned by a web page"


async def test_dns_rebinding_is_refused_although_origin_and_host_agree(builtin):
    rebound = f"evil.example:{builtin.port}"
    status, _, data = await call(builtin.url, "GET", "/_mockllm/journal", Host=rebound, Origin=f"http://{rebound}")
    assert status == 403
    assert data["error"]["code"] == "host_not_allowed"


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "LOCALHOST", "app.localhost:{port}", "127.0.0.1:{port}", "127.1.2.3", "[::1]:{port}"],
    ids=["localhost", "localhost-upper-case", "sub-localhost", "ipv4", "ipv4-builtin-range", "ipv6"],
)
async def test_builtin_hosts_are_served(builtin, host):
    status, _, data = await call(builtin.url, "GET", "/_mockllm/health", Host=host.format(port=builtin.port))
    assert (status, data["status"]) == (200, "ok")


async def test_the_api_routes_answer_any_host(builtin):
    async with aiohttp.ClientSession() as session:
        async with session.post(builtin.url + CHAT, json=ask("hello", stream=False),
                                headers={"Host": "mockllm.internal:8000"}) as response:
            assert response.status == 200
        async with session.get(builtin.url + "/v1/models", headers={"Host": "mockllm.internal"}) as response:
            assert response.status == 200


async def test_an_allowed_host_is_served_with_its_own_origin(start_server):
    running = await start_server(speed=50, allow_hosts=("Mockllm.Internal",))
    host = f"mockllm.internal:{running.port}"
    status, _, _ = await call(running.url, "GET", "/_mockllm/journal", Host=host, Origin=f"http://{host}")
    assert status == 200
    status, _, data = await call(running.url, "GET", "/_mockllm/journal", Host="other.internal")
    assert (status, data["error"]["code"]) == (403, "host_not_allowed")


# -- settings ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"allow_origins": ("*",)}, "expected an origin"),
        ({"allow_origins": ("localhost:5173",)}, "expected an origin"),
        ({"allow_origins": ("http://localhost:5173/app",)}, "expected an origin"),
        ({"allow_hosts": ("mockllm:8000",)}, "expected a host name"),
        ({"allow_hosts": ("http://mockllm",)}, "expected a host name"),
    ],
    ids=["origin-star", "origin-no-scheme", "origin-with-path", "host-with-port", "host-as-url"],
)
async def test_a_bad_allowance_is_a_value_error_before_anything_listens(start_server, settings, message):
    with pytest.raises(ValueError, match=message):
        await start_server(**settings)


@pytest.mark.parametrize(
    "header", [b"Origin: http://caf\xe9.example", b"Origin: http://\xff\xfe", b"Host: \xff\xfe:8000"],
    ids=["latin-1-origin", "not-utf8-origin", "not-utf8-host"],
)
async def test_header_bytes_that_are_not_ascii_are_refused_with_a_403_not_a_500(start_server, header):
    running = await start_server(speed=50, allow_origins=(FRONT_END,))
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        host = b"" if header.startswith(b"Host") else b"Host: 127.0.0.1\r\n"
        writer.write(b"GET /_mockllm/journal HTTP/1.1\r\n" + host + header + b"\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 "), head
    assert json.loads(body)["error"]["code"] in {"origin_not_allowed", "host_not_allowed"}


async def test_the_probe_answers_anyone_even_where_the_control_routes_are_closed(start_server):
    """A container HEALTHCHECK or a Kubernetes probe sends no token, from the node's address."""
    running = await start_server(speed=50, admin_token="a-long-admin-token-1234")
    assert (await call(running.url, "GET", "/_mockllm/health"))[0] == 401
    status, _, data = await call(running.url, "GET", "/healthz", Host="10.1.2.3:8000", Origin=EVIL)
    assert (status, data) == (200, {"status": "ok"})
    _, _, journal = await call(running.url, "GET", "/_mockllm/journal",
                               Authorization="Bearer a-long-admin-token-1234")
    assert journal["entries"] == []  # probes are not exchanges
