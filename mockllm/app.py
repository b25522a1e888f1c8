"""The factory: the aiohttp application, its routes and its middlewares.
It sits at the top: it imports the route modules, and nothing imports it.

    request ─▶ dialect.parse ─▶ router.select ─▶ pipeline.plan ─▶ player.play

The API routes come from the table of formats (``api.py``), the browser's
routes from ``streams.py``; CORS grants what every format's clients send and read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from . import api, control, guard, player, proxy, reload, sandbox, streams
from .dialects import DIALECTS
from .errors import RequestError
from .exchange import ARRIVED, EXCHANGE, dialect_of, error_response
from .journal import Outcome
from .library import LiveLibrary
from .recording import Recorder
from .state import STATE, Settings, State


def _joined(*groups: tuple[str, ...]) -> str:
    """Header names joined for a CORS header, each once, in first-seen order."""
    seen: dict[str, str] = {}
    for group in groups:
        for name in group:
            seen.setdefault(name.lower(), name)
    return ", ".join(seen.values())


# Browsers only let a page send these after a preflight; ``*`` would not cover
# Authorization, so the list is explicit (plus whatever the preflight asks for).
ALLOW_HEADERS = _joined(
    ("Authorization", "Content-Type", "Accept", "Last-Event-ID"),
    *(dialect.allow_headers for dialect in DIALECTS.values()),
    ("X-Mockllm-Scenario", "X-Mockllm-Session"),
)
EXPOSE_HEADERS = _joined(
    *(dialect.expose_headers for dialect in DIALECTS.values()),
    ("x-mockllm-scenario", "x-mockllm-attempt", "x-mockllm-turn", "x-mockllm-faults"),
)

log = logging.getLogger("mockllm")


def make_app(settings: Settings, *, control_open: bool = True, host: str = "127.0.0.1") -> web.Application:
    """The application for a server bound to ``host``; ``control_open`` is
    False when bound beyond loopback, and the control routes then need the
    admin token."""
    app = web.Application(
        client_max_size=settings.max_body, middlewares=[cors, record_exchange, errors]
    )
    # A reload keeps the default the first load had, however it was given.
    live = LiveLibrary(settings.library, settings.paths, settings.default or settings.library.default)
    checks = guard.Guard(host, frozenset(settings.allow_origins), frozenset(settings.allow_hosts))
    app[STATE] = State(settings, live, control_open, checks)
    app.cleanup_ctx.append(_store)
    app.on_response_prepare.append(_cors_headers)
    app.on_shutdown.append(_drain)
    control.add_routes(app)
    if settings.upstream is not None:  # proxy and record: the upstream answers every API route
        app.cleanup_ctx.append(settings.upstream.client)
        if settings.recording is not None:
            app[proxy.RECORDER] = Recorder(settings.recording, settings.upstream.url)
        proxy.add_routes(app)
        return app
    streams.add_routes(app, settings.mounts)
    api.add_routes(app, taken=streams.mounted(settings.mounts))
    sandbox.add_routes(app)
    if settings.reload:
        app.cleanup_ctx.append(reload.watch)
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    """The shared store, with this server's scenarios brought up to its run-time changes."""
    state = app[STATE]
    await state.store.start(functools.partial(control.apply_change, state.scenarios))
    yield
    await state.store.close()


async def _drain(app: web.Application) -> None:
    """Let the open streams finish for the grace period, then end the rest
    (aiohttp has stopped accepting connections by now)."""
    state = app[STATE]
    grace, count = state.settings.grace, len(state.exchanges)
    if count:
        log.warning("stopping: %d open stream%s; letting %s finish for up to %gs",
                    count, "" if count == 1 else "s", "it" if count == 1 else "them", grace)
    else:
        log.info("stopping: 0 open streams")
    ended = await state.exchanges.drain(grace)
    if ended:
        log.warning("stopping: ended %d stream%s still open", ended, "" if ended == 1 else "s")


# -- middlewares -----------------------------------------------------------
@web.middleware
async def record_exchange(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One journal entry and one log line per API exchange, however it ends.

    Handlers add what they learn to ``request[EXCHANGE]``; a cancelled handler
    (the client went away) is recorded before the cancellation goes on.
    """
    if request.method == "OPTIONS" or request.path in ("/", control.PROBE, control.READY) or request.path.startswith("/static/") \
            or guard.is_control(request.path):
        return await handler(request)  # not an API exchange: the control plane and the sandbox
    loop = asyncio.get_running_loop()
    start = loop.time()
    arrived = time.time()
    exchange: dict[str, Any] = {}  # journal fields by name (Journal.record's keywords), and the Played
    request[EXCHANGE] = exchange
    exchanges = request.app[STATE].exchanges
    exchanges.begin(request)
    response = None
    failed = False
    try:
        await request.app[STATE].intake.turn()  # in a burst, requests start a few per turn of the loop
        request[ARRIVED] = start = loop.time()  # the script's clock starts when its request does
        response = await handler(request)
        return response
    except Exception:
        failed = True  # past the headers, the errors middleware lets it through: the stream broke
        raise
    finally:
        played: player.Played | None = exchange.pop("played", None)
        status = played.status if played is not None else (response.status if response is not None else None)
        outcome = _outcome(played, response, failed)
        if outcome is Outcome.CLIENT_DISCONNECTED and exchanges.ending:
            outcome = Outcome.SERVER_SHUTDOWN  # cancelled as a departing client cancels, but by the server
        exchanges.end(request)
        entry = request.app[STATE].store.record(dict(
            time=arrived,
            method=request.method,
            route=request.path,
            status=status or None,
            outcome=outcome,
            client_retry_count=_retry_count(request.headers.get("x-stainless-retry-count", "")),
            tokens=played.tokens if played else 0,
            bytes=played.bytes if played else 0,
            duration=round(loop.time() - start, 6),
            **exchange,
        ))
        metrics = request.app[STATE].metrics
        if metrics is not None:
            metrics.observe(entry, _route_of(request), dialect_of(request).name, _first_byte(played))
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %s scenario=%s session=%s attempt=%s faults=%s outcome=%s tokens=%d bytes=%d %.3fs",
                entry.method, entry.route, entry.status or "-", entry.scenario or "-", entry.session or "-",
                entry.attempt or "-", "; ".join(entry.faults) or "-", entry.outcome.value, entry.tokens,
                entry.bytes, entry.duration,
            )


def _route_of(request: web.Request) -> str:
    """The route's pattern, not the path: a metric label must not grow with every model name."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(none)"


def _first_byte(played: player.Played | None) -> float | None:
    """When the first body byte went out, in seconds after the request: the
    first beat's deadline, which the player keeps (nothing is timed per write)."""
    if played is None or played.script is None or not played.written:
        return None
    return played.script.beats[0].at


def _outcome(played: player.Played | None, response: web.StreamResponse | None, failed: bool) -> Outcome:
    """How an exchange ended, from what the player and the handler left behind."""
    if failed:
        return Outcome.ERROR
    if played is not None:
        return played.outcome
    if response is None:
        return Outcome.CLIENT_DISCONNECTED  # gone before the handler could answer
    return Outcome.COMPLETED if response.status < 400 else Outcome.ERROR


def _retry_count(value: str) -> int | None:
    """The SDK's retry count, or None: ``isdigit`` alone lets through '²' and
    thousands of digits, which ``int`` refuses, and the entry would be lost."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal leaves in the dialect's error shape, whoever raised it;
    so does a bug, as a 500 whose traceback goes to the log, not the client."""
    try:
        return await handler(request)
    except RequestError as error:
        return _refused(request, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _refused(request, _from_http(request, exc))
    except Exception:
        if _begun(request):
            raise  # a second response cannot follow: aiohttp logs it and closes the connection
        log.exception("%s %s: unexpected error", request.method, request.path)
        return _refused(request, RequestError(
            500, "The server had an error while processing your request (mockllm logged the details).",
            type="server_error",
        ))


def _begun(request: web.Request) -> bool:
    """Whether a response has been prepared (its headers may still be buffered)."""
    played = request[EXCHANGE].get("played") if EXCHANGE in request else None
    return bool(request.writer.output_size or (played is not None and played.status))


def _refused(request: web.Request, error: RequestError) -> web.Response:
    if EXCHANGE in request:
        request[EXCHANGE]["error"] = error.message
        request[EXCHANGE]["retry_headers"] = player.retry_headers(error.headers.items())  # a quota's 429 says when
        request[EXCHANGE].pop("played", None)  # nothing was sent: this response is the exchange's outcome
    return error_response(error, dialect_of(request))


def _from_http(request: web.Request, exc: web.HTTPException) -> RequestError:
    if exc.status == 404:
        return RequestError(404, f"Invalid URL ({request.method} {request.path})")
    if exc.status == 405:
        # RFC 9110: a 405 must say which methods the route does allow.
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return RequestError(405, f"Method not allowed ({request.method} {request.path})", headers=allow)
    if exc.status == 413:
        limit = request.app[STATE].settings.max_body
        return RequestError(
            413, f"Request body too large: the limit is {limit} bytes.", code="request_too_large"
        )
    return RequestError(exc.status, exc.reason)

@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What browsers may do: no page may drive the control routes (guard.py),
    and preflights are answered for every other route before routing can
    refuse them (the grant itself is ``_cors_headers``)."""
    if guard.is_control(request.path):
        refusal = request.app[STATE].guard.refusal(request.headers.get("Host"), request.headers.get("Origin"))
        if refusal is not None:
            return error_response(refusal, dialect_of(request))  # a preflight refused gets no grant
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        asked = request.headers.get("Access-Control-Request-Headers")
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": f"{ALLOW_HEADERS}, {asked}" if asked else ALLOW_HEADERS,
                "Access-Control-Max-Age": "86400",
            },
        )
    return await handler(request)


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``*`` on the API routes; on a control route, a grant only for an allowed origin."""
    if guard.is_control(request.path):
        origin = request.headers.get("Origin")
        response.headers.add("Vary", "Origin")  # caches must not serve one origin's answer to another
        if origin is None or not request.app[STATE].guard.grants(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = origin
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
