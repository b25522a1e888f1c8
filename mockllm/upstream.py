"""The upstream: the real API that ``mockllm proxy`` and ``mockllm record``
forward to, and what crosses to it and back.

    client request ─▶ forwarded headers ─▶ aiohttp client ─▶ upstream
    client ◀── relayed headers ◀── status, headers, body chunks ◀──┘

Failures to reach the upstream become the format's own 502 or 504
(``failure``): the client sees a gateway error, as it would from a real
gateway, and the server stays up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from .errors import RequestError

# Headers that belong to one hop (RFC 9110 7.6.1), or that aiohttp sets itself
# for the next one. ``accept-encoding`` goes as ``identity``: the proxy reads
# the frames, so it wants them uncompressed.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding", "content-encoding",
})
# What never reaches a recorded file: credentials and cookies, either way.
SECRET_HEADERS = frozenset({
    "authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie", "proxy-authorization",
})
SECRET_QUERY = frozenset({"key", "api_key", "api-key"})  # Gemini clients may send the key as ?key=
STREAM_TYPES = ("text/event-stream", "application/x-ndjson")

CLIENT = web.AppKey("upstream_client", aiohttp.ClientSession)


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where to forward, and how long to wait for it."""

    url: str
    read_timeout: float = 300.0  # seconds of silence from the upstream before it is given up (a 504)
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        url = URL(self.url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"the upstream must be an http:// or https:// URL, got {self.url!r}")

    def target(self, path: str, query: str) -> URL:
        """The upstream's URL for a request to ``path``: a path the upstream URL
        has goes before it (``https://host/openai`` + ``/v1/chat/completions``)."""
        base = URL(self.url)
        joined = base.path.rstrip("/") + path
        return base.with_path(joined, encoded=False).with_query(query) if query else base.with_path(joined)

    async def client(self, app: web.Application) -> AsyncIterator[None]:
        """The app's one client session (``cleanup_ctx``): connections to the upstream are reused."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout, sock_read=self.read_timeout)
        connector = aiohttp.TCPConnector(limit=0)  # as many streams as the clients open
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as session:
            app[CLIENT] = session
            yield


class QuietWatch:
    """Gives up on an upstream's body once it has sent nothing for ``seconds``:
    the read waiting on it raises ``aiohttp.ServerTimeoutError``.

    The session's ``sock_read`` does the same by re-timing every chunk, a
    timer made and cancelled per event: a good part of what relaying an event
    costs, and all of it on asyncio's timer heap. Here one timer per response
    re-arms from the last read (``heard``, which the reader sets) when it
    fires. ``sock_read`` still times the wait for the headers (a 504)."""

    def __init__(self, answer: aiohttp.ClientResponse, seconds: float) -> None:
        self._answer, self._seconds = answer, seconds
        self._loop = asyncio.get_running_loop()
        self.heard = self._loop.time()
        protocol = answer.connection.protocol if answer.connection is not None else None
        if protocol is not None:
            protocol.read_timeout = None  # as aiohttp's own websocket client does once its handshake is in
        self._timer = self._loop.call_later(seconds, self._check)

    def __enter__(self) -> QuietWatch:
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        quiet = self._loop.time() - self.heard
        if quiet < self._seconds:
            self._timer = self._loop.call_later(self._seconds - quiet, self._check)
        else:
            self._answer.content.set_exception(
                aiohttp.ServerTimeoutError(f"no byte from the upstream for {self._seconds:g} s"))


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers the upstream gets: all but this hop's and mockllm's own."""
    out = {name: value for name, value in headers.items()
           if name.lower() not in HOP_BY_HOP and not name.lower().startswith("x-mockllm-")}
    out["Accept-Encoding"] = "identity"
    return out


def relayed(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The upstream's response headers the client gets: all but the hop's
    (the body is re-chunked, and arrives decompressed)."""
    return tuple((name, value) for name, value in headers if name.lower() not in HOP_BY_HOP)


def is_stream(headers: Mapping[str, str]) -> bool:
    return headers.get("Content-Type", "").split(";")[0].strip().lower() in STREAM_TYPES


def secrets(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, ...]:
    """The credentials a request carries (a bearer token without its ``Bearer``),
    so that a recording can be scrubbed of them wherever the upstream echoes them."""
    values = [value for name, value in headers.items() if name.lower() in SECRET_HEADERS]
    values += [value for name, value in query.items() if name.lower() in SECRET_QUERY]
    found = {value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value for value in values}
    return tuple(sorted((value.strip() for value in found if len(value.strip()) >= 4), key=len, reverse=True))


def failure(error: BaseException, url: URL) -> RequestError:
    """What the client gets when the upstream cannot be reached or stops answering:
    a gateway error, in the format's shape (the route's dialect renders it)."""
    where = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
    if isinstance(error, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return RequestError(504, f"mockllm proxy: the upstream {where} did not answer in time.",
                            type="upstream_timeout", code="upstream_timeout")
    if isinstance(error, (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError)):
        reason = f"a TLS error talking to the upstream {where} ({error})"
    elif isinstance(error, aiohttp.ClientConnectorError):
        reason = f"could not connect to the upstream {where} ({error.os_error.strerror or error})"
    elif isinstance(error, aiohttp.ServerDisconnectedError):
        reason = f"the upstream {where} closed the connection without answering"
    else:
        reason = f"the upstream {where} failed ({type(error).__name__}: {error})"
    return RequestError(502, f"mockllm proxy: {reason}.", type="upstream_error", code="bad_gateway")


# What a failed upstream call may raise (``failure`` renders each).
UPSTREAM_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
