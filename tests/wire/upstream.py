"""A stand-in for the real providers, so that ``mockllm record`` and ``mockllm
proxy`` are tested against an upstream without reaching the internet.

It answers OpenAI Chat Completions, Anthropic Messages, Gemini and Ollama's
chat as the real APIs do: their recorded bytes (``upstream_recordings``),
their headers, their key checks and their error bodies, one frame per write
with a gap between frames. The last user message chooses the recording::

    request ─▶ logged ─▶ trouble? (hang, reset) ─▶ key? (refused in the
    provider's shape) ─▶ trouble? (a status) ─▶ recording for (provider,
    prompt, streamed) ─▶ time_to_headers ─▶ head ─▶ frame, gap, frame, …
    ─▶ end (or a cut, or the provider's in-stream error)

Troubles are queued by a test (``fail``, ``error``, ``hang``, ``reset``,
``cut``); each request takes the first one. A prompt with no recording is
answered 400 in the provider's shape, with a message naming the prompts it
knows.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from .upstream_recordings import RECORDINGS, STREAMS, Recording, body

__all__ = ["KEYS", "RECORDINGS", "STREAMS", "Seen", "Upstream", "body", "closed_port_url", "start_upstream"]

# The keys the stand-in accepts, shaped like each provider's. A test proves a
# recorded file never holds one by searching it for these strings.
KEYS = {
    "openai": "sk-proj-upstreamSECRET0openai0key0000000000000000",
    "anthropic": "sk-ant-api03-upstreamSECRET0anthropic0key000000000",
    "gemini": "AIzaSyUpstreamSECRET0gemini0key00000000",
}
GAP = 0.02  # seconds between frames
TIME_TO_HEADERS = 0.01  # seconds before the head of every answer


# --- what each provider sends besides the recording -------------------------
# Copied from the doc, not imported from mockllm's dialects: the stand-in must not
# share a mistake with the code it tests.

OPENAI_HEADERS = (  # §2.1: envoyproxy/ai-gateway chat-streaming.yaml, with a Cloudflare cookie (our own value)
    ("x-request-id", "req_cce54d2033034299a777db6f8ce812cf"),
    ("openai-processing-ms", "6191"),
    ("openai-version", "2020-10-01"),
    ("openai-project", "proj_KYenqYOfeZsnXEVK8dXVBhez"),
    ("access-control-expose-headers", "X-Request-ID"),
    ("x-ratelimit-limit-requests", "500"),
    ("x-ratelimit-limit-tokens", "200000"),
    ("x-ratelimit-remaining-requests", "499"),
    ("x-ratelimit-remaining-tokens", "199996"),
    ("x-ratelimit-reset-requests", "120ms"),
    ("x-ratelimit-reset-tokens", "1ms"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
    ("x-content-type-options", "nosniff"),
    ("server", "cloudflare"),
    ("cf-cache-status", "DYNAMIC"),
    ("set-cookie", "__cf_bm=upstreamCOOKIE0cf0bm.1755137933-1.0.1.1-0000; path=/; "
                   "expires=Thu, 14-Aug-25 02:48:59 GMT; domain=.api.openai.com; HttpOnly; Secure; SameSite=None"),
    ("cf-ray", "96ecf6d48ebd13fc-JHB"),
    ("alt-svc", 'h3=":443"; ma=86400'),
)
ANTHROPIC_HEADERS = (  # §5: simonw/til llms/streaming-llm-apis.md
    ("cache-control", "no-cache"),
    ("anthropic-ratelimit-requests-limit", "4000"),
    ("anthropic-ratelimit-requests-remaining", "3999"),
    ("anthropic-ratelimit-requests-reset", "2024-09-21T19:44:06Z"),
    ("anthropic-ratelimit-tokens-limit", "400000"),
    ("anthropic-ratelimit-tokens-remaining", "399000"),
    ("anthropic-ratelimit-tokens-reset", "2024-09-21T19:43:44Z"),
    ("request-id", "req_0189EJVDRQDoLyxjoNqG8Dw7"),
)
GEMINI_HEADERS = (  # §13.2: the pydantic-ai cassettes, and the server simonw/til names
    ("content-disposition", "attachment"),
    ("vary", "Origin"),
    ("vary", "X-Origin"),
    ("vary", "Referer"),
    ("server-timing", "gfet4t7; dur=962"),
    ("alt-svc", 'h3=":443"; ma=2592000,h3-29=":443"; ma=2592000'),
    ("server", "scaffolding on HTTPServer2"),
)


def openai_error(message: str, kind: str, code: str | None, param: str | None = None) -> bytes:
    """§2.8: indented by four, with a final newline."""
    error = {"message": message, "type": kind, "param": param, "code": code}
    return json.dumps({"error": error}, indent=4).encode() + b"\n"


def anthropic_error(kind: str, message: str) -> bytes:
    """§5: compact, with the request's id."""
    error = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011CUpstreamStandIn"}
    return json.dumps(error, separators=(",", ":")).encode()


def gemini_error(code: int, status: str, message: str, *details: dict) -> bytes:
    """§13.6: google.rpc style, indented by two, with a final newline."""
    error: dict = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return json.dumps({"error": error}, indent=2).encode() + b"\n"


ERRORS: dict[tuple[str, int], bytes] = {
    ("openai", 401): openai_error(  # §2.8, as captured (the key is not echoed)
        "Incorrect API key provided: sk-…. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error", "invalid_api_key"),
    ("openai", 429): openai_error(
        "Rate limit reached for gpt-4o in organization org-upstream on tokens per min (TPM): Limit 30000, "
        "Used 29937, Requested 385. Please try again in 644ms. Visit https://platform.openai.com/account/rate-limits"
        " to learn more.", "tokens", "rate_limit_exceeded"),
    ("openai", 500): openai_error(
        "The server had an error while processing your request. Sorry about that!", "server_error", None),
    # Anthropic's 401 and 429 bodies are not in the doc: these are its documented error types.
    ("anthropic", 401): anthropic_error("authentication_error", "invalid x-api-key"),
    ("anthropic", 429): anthropic_error("rate_limit_error", "Number of requests has exceeded your rate limit."),
    ("anthropic", 529): anthropic_error("overloaded_error", "Overloaded"),
    # The doc leaves Gemini's key errors unverified; these are what the API answers a bad key and none.
    ("gemini", 400): gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
        "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}),
    ("gemini", 403): gemini_error(
        403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity)."
        " Please use API Key or other form of API consumer identity to call this API."),
    ("gemini", 429): gemini_error(
        429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan.",
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}),
    ("gemini", 503): gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    ("ollama", 429): b'{"error":"rate limited"}',  # §14.5 (the cloud's)
    ("ollama", 500): b'{"error":"an error was encountered while running the model"}',
}

# What each provider writes when it fails after the stream began (the status stays 200).
IN_STREAM_ERRORS = {
    "openai": b'data: {"error":{"message":"The server had an error while processing your request. Sorry about that!",'
              b'"type":"server_error","param":null,"code":null}}\n\n',  # §2.6
    "anthropic": b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
                 b"\n\n",  # §5
    # §13.6: raw, with no "data:", over several lines (their line ends are not verified: LF here).
    "gemini": gemini_error(503, "UNAVAILABLE", "This model is currently experiencing high demand. Spikes in demand are"
                           " usually temporary. Please try again later."),
    "ollama": b'{"error":"an error was encountered while running the model"}\n',  # §14.5
}


def _openai_unknown(message: str) -> bytes:
    return openai_error(message, "invalid_request_error", None)


def _anthropic_unknown(message: str) -> bytes:
    return anthropic_error("invalid_request_error", message)


def _gemini_unknown(message: str) -> bytes:
    return gemini_error(400, "INVALID_ARGUMENT", message)


def _ollama_unknown(message: str) -> bytes:
    return json.dumps({"error": message}, separators=(",", ":")).encode()


# --- reading a request as each provider does ---------------------------------


def _texts(content: object, kind: str) -> str:
    """The text of a message's content: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get(kind, "") for part in content if isinstance(part, dict))
    return ""


def chat_prompt(ask: dict) -> str:
    """OpenAI's and Anthropic's: the last user message's text (a tool result block has none)."""
    users = [m for m in ask.get("messages") or () if isinstance(m, dict) and m.get("role") == "user"]
    return _texts(users[-1].get("content"), "text") if users else ""


def gemini_prompt(ask: dict) -> str:
    users = [c for c in ask.get("contents") or () if isinstance(c, dict) and c.get("role", "user") == "user"]
    return _texts(users[-1].get("parts"), "text") if users else ""


def openai_key(request: web.Request) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key if scheme == "Bearer" else None


def anthropic_key(request: web.Request) -> str | None:
    """``x-api-key``, or a bearer token: the anthropic SDK sends its key that way since 2.16."""
    return request.headers.get("x-api-key") or openai_key(request)


def gemini_key(request: web.Request) -> str | None:
    return request.headers.get("x-goog-api-key") or request.query.get("key")


@dataclass(frozen=True)
class Provider:
    name: str
    headers: tuple[tuple[str, str], ...]
    stream_type: str  # the content type of a stream
    json_type: str  # and of a JSON body
    key: Callable[[web.Request], str | None] | None  # None: no key is asked for (a local Ollama)
    prompt: Callable[[dict], str]
    refusal: Callable[[str | None], int]  # the status for a missing or wrong key
    unknown: Callable[[str], bytes]  # a 400 body, for a prompt with no recording


OPENAI = Provider("openai", OPENAI_HEADERS, "text/event-stream; charset=utf-8", "application/json",
                  openai_key, chat_prompt, lambda key: 401, _openai_unknown)
ANTHROPIC = Provider("anthropic", ANTHROPIC_HEADERS, "text/event-stream; charset=utf-8", "application/json",
                     anthropic_key, chat_prompt, lambda key: 401, _anthropic_unknown)
GEMINI = Provider("gemini", GEMINI_HEADERS, "text/event-stream", "application/json; charset=UTF-8",
                  gemini_key, gemini_prompt, lambda key: 403 if key is None else 400, _gemini_unknown)
OLLAMA = Provider("ollama", (), "application/x-ndjson", "application/json; charset=utf-8",
                  None, chat_prompt, lambda key: 401, _ollama_unknown)


# --- the server ---------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    json: object


@dataclass(frozen=True)
class Trouble:
    """What the next request meets instead of a clean answer."""

    # reset: before the head; cut: FIN after ``after`` frames; error: the in-stream error after them
    kind: Literal["none", "status", "hang", "reset", "cut", "error"]
    status: int = 0
    retry_after: str | None = None
    after: int = 0


@dataclass
class Upstream:
    """A running stand-in: point a client (or mockllm) at ``url``.

    OpenAI's base URL is ``url + "/v1"``; Anthropic's and Gemini's are ``url``
    (google-genai with ``api_version`` ``v1`` or ``v1beta``).
    """

    runner: web.AppRunner
    url: str = ""
    gap: float = GAP
    time_to_headers: float = TIME_TO_HEADERS
    keys: dict[str, str] = field(default_factory=lambda: dict(KEYS))
    requests: list[Seen] = field(default_factory=list)
    troubles: deque[Trouble] = field(default_factory=deque)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next ``times`` requests are answered ``status``, in the provider's error shape
        (``ERRORS``), with a ``retry-after`` header when one is given."""
        self.troubles.extend([Trouble("status", status, retry_after)] * times)

    def error(self, after: int, times: int = 1) -> None:
        """The next ``times`` streams fail after ``after`` frames as the provider fails mid-stream
        (``IN_STREAM_ERRORS``): the error is written and the body ends."""
        self.troubles.extend([Trouble("error", after=after)] * times)

    def hang(self, times: int = 1) -> None:
        """The next ``times`` requests get no answer at all, until the stand-in stops."""
        self.troubles.extend([Trouble("hang")] * times)

    def reset(self, times: int = 1) -> None:
        """The next ``times`` connections are reset (RST) before any answer."""
        self.troubles.extend([Trouble("reset")] * times)

    def cut(self, after: int, times: int = 1) -> None:
        """The next ``times`` answers stop after ``after`` frames: the connection closes (FIN)
        with no end of the chunked body."""
        self.troubles.extend([Trouble("cut", after=after)] * times)

    async def close(self) -> None:
        self.closing.set()
        await self.runner.cleanup()


UPSTREAM = web.AppKey("upstream", Upstream)


async def _answer(request: web.Request, provider: Provider, ask: dict, streamed: bool) -> web.StreamResponse:
    upstream = request.app[UPSTREAM]
    upstream.requests.append(Seen(request.method, request.path, dict(request.query), request.headers, ask))
    trouble = upstream.troubles.popleft() if upstream.troubles else Trouble("none")
    if trouble.kind in ("hang", "reset"):
        if trouble.kind == "hang":
            await upstream.closing.wait()
        _reset(request)
        return web.Response()  # never sent: the connection is gone
    key = provider.key(request) if provider.key else None
    if provider.key and key != upstream.keys[provider.name]:
        return await _error(provider, provider.refusal(key), upstream)
    if trouble.kind == "status":
        headers = {"retry-after": trouble.retry_after} if trouble.retry_after else {}
        return await _error(provider, trouble.status, upstream, headers)
    recording = RECORDINGS.get((provider.name, provider.prompt(ask), streamed))
    if recording is None:
        known = sorted(prompt for (name, prompt, mode) in RECORDINGS if name == provider.name and mode == streamed)
        message = f"the stand-in has no {'streamed' if streamed else 'whole'} reply to this prompt; it knows {known}"
        return await _head(upstream, 400, provider.json_type, provider.unknown(message))
    return await _play(request, provider, recording, upstream, trouble)


async def _error(provider: Provider, status: int, upstream: Upstream,
                 headers: dict[str, str] | None = None) -> web.Response:
    """An error in the provider's shape, with its request id (the SDKs' ``request_id``)."""
    ids = {name: value for name, value in provider.headers if name in ("x-request-id", "request-id")}
    return await _head(upstream, status, provider.json_type, ERRORS[(provider.name, status)], {**ids, **(headers or {})})


async def _head(upstream: Upstream, status: int, content_type: str, data: bytes,
                headers: dict[str, str] | None = None) -> web.Response:
    await asyncio.sleep(upstream.time_to_headers)
    return web.Response(status=status, body=data, headers={**(headers or {}), "Content-Type": content_type})


async def _play(request: web.Request, provider: Provider, recording: Recording, upstream: Upstream,
                trouble: Trouble) -> web.StreamResponse:
    """The recording's frames, one write each, ``gap`` apart."""
    await asyncio.sleep(upstream.time_to_headers)
    headers = CIMultiDict(provider.headers)
    headers["Content-Type"] = provider.stream_type if recording.streamed else provider.json_type
    response = web.StreamResponse(headers=headers)
    if recording.streamed:
        response.enable_chunked_encoding()  # as the real APIs: no content-length, frames as they come
    else:
        response.content_length = len(recording.body)
    await response.prepare(request)
    frames = recording.frames[: trouble.after] if trouble.kind in ("cut", "error") else recording.frames
    if trouble.kind == "error":
        frames += (IN_STREAM_ERRORS[provider.name],)
    for index, frame in enumerate(frames):
        if index:
            await asyncio.sleep(upstream.gap)
        await response.write(frame)
    if trouble.kind == "cut":
        assert request.transport is not None
        request.transport.close()
        return response
    await response.write_eof()
    return response


def _reset(request: web.Request) -> None:
    """Abort the connection with an RST: SO_LINGER 0, then close."""
    transport = request.transport
    if transport is None:
        return
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _chat(request: web.Request) -> web.StreamResponse:
    ask = await _json(request)
    return await _answer(request, OPENAI, ask, bool(ask.get("stream")))


async def _messages(request: web.Request) -> web.StreamResponse:
    ask = await _json(request)
    return await _answer(request, ANTHROPIC, ask, bool(ask.get("stream")))


async def _ollama(request: web.Request) -> web.StreamResponse:
    """Ollama streams unless asked not to (ollama-python always says)."""
    ask = await _json(request)
    return await _answer(request, OLLAMA, ask, ask.get("stream") is not False)


async def _gemini(request: web.Request) -> web.StreamResponse:
    """``/{version}/models/{model}:{method}``: SSE only with ``alt=sse``, as every official client asks."""
    method = request.match_info["call"].rpartition(":")[2]
    if method == "streamGenerateContent" and request.query.get("alt") == "sse":
        return await _answer(request, GEMINI, await _json(request), True)
    if method == "generateContent":
        return await _answer(request, GEMINI, await _json(request), False)
    raise web.HTTPNotFound()


async def _json(request: web.Request) -> dict:
    """The request's JSON object; ``{}`` for anything else, which then matches no recording."""
    try:
        ask = await request.json()
    except ValueError:
        return {}
    return ask if isinstance(ask, dict) else {}


async def start_upstream() -> Upstream:
    """Start a stand-in on 127.0.0.1 at a free port; ``close()`` it when done."""
    app = web.Application()
    app.add_routes([
        web.post("/v1/chat/completions", _chat),
        web.post("/v1/messages", _messages),
        web.post("/api/chat", _ollama),
        web.post(r"/{version:v1|v1beta}/models/{call}", _gemini),
    ])
    upstream = app[UPSTREAM] = Upstream(web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5,
                                                      access_log=None))
    await upstream.runner.setup()
    await web.TCPSite(upstream.runner, "127.0.0.1", 0).start()
    upstream.url = f"http://127.0.0.1:{upstream.runner.addresses[0][1]}"
    return upstream


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
