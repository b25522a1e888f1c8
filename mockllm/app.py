"""The aiohttp application: routes, middlewares and the glue of the pipeline.

    request ─▶ dialect.parse ─▶ router.select ─▶ pipeline.plan ─▶ player.play
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from dataclasses import dataclass, field

from aiohttp import web

from . import guard, pipeline, player, router
from .dialects import openai_chat
from .errors import RequestError
from .faults.chaos import Chaos
from .journal import BODY_LIMIT, DEFAULT_SIZE, Journal, Outcome, request_summary
from .library import Library, LiveLibrary
from .script import is_large
from .sessions import Attempts, session_key
from .shutdown import Exchanges

DEFAULT_MAX_BODY = 10 * 1024 * 1024

# Browsers only let a page send these after a preflight; ``*`` would not cover
# Authorization, so the list is explicit (plus whatever the preflight asks for).
ALLOW_HEADERS = (
    "Authorization, Content-Type, Accept, Last-Event-ID, OpenAI-Organization, OpenAI-Project, "
    "X-Mockllm-Scenario, X-Mockllm-Session"
)
EXPOSE_HEADERS = (
    "x-request-id, retry-after, retry-after-ms, x-should-retry, openai-processing-ms, "
    "x-ratelimit-limit-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-requests, "
    "x-ratelimit-remaining-tokens, x-ratelimit-reset-requests, x-ratelimit-reset-tokens, "
    "x-mockllm-scenario, x-mockllm-attempt, x-mockllm-faults"
)


@dataclass
class Settings:
    library: Library
    speed: float = 1.0
    seed: int = 0
    max_body: int = DEFAULT_MAX_BODY
    chaos: Chaos = Chaos()
    paths: tuple[str, ...] = ()  # where ``library`` came from: what a reload reads
    default: str | None = None
    reload: bool = False
    journal_size: int = DEFAULT_SIZE
    admin_token: str | None = None
    strict: bool = False  # an unknown model is a 404 instead of the default
    mounts: tuple[tuple[str, str], ...] = ()  # (path, format): a front end's own backend routes
    allow_origins: tuple[str, ...] = ()  # pages that may use the control routes (see guard.py)
    allow_hosts: tuple[str, ...] = ()  # Host names the control routes answer beyond loopback
    # Seconds open streams get to finish when the server stops. In process (tests,
    # the pytest plugin) leftovers are ended soon; ``serve`` gives 5 s by default.
    grace: float = 1.0

    def __post_init__(self) -> None:
        """Refuse what would fail at the first request, and normalize the allowances."""
        if self.admin_token:
            guard.check_token(self.admin_token)
        if not self.grace >= 0:
            raise ValueError(f"the grace period must be 0 seconds or more, got {self.grace}")
        self.allow_origins = tuple(dict.fromkeys(map(guard.origin, self.allow_origins)))
        self.allow_hosts = tuple(dict.fromkeys(map(guard.host_name, self.allow_hosts)))


@dataclass
class State:
    settings: Settings
    scenarios: LiveLibrary
    control_open: bool  # control routes without a token (bound to loopback)
    guard: guard.Guard
    attempts: Attempts = field(default_factory=Attempts)
    exchanges: Exchanges = field(default_factory=Exchanges)
    journal: Journal = field(default_factory=Journal)

    @property
    def library(self) -> Library:
        return self.scenarios.current


STATE = web.AppKey("state", State)
log = logging.getLogger("mockllm")


def make_app(settings: Settings, *, control_open: bool = True, host: str = "127.0.0.1") -> web.Application:
    """The application for a server bound to ``host``; ``control_open`` is
    False when bound beyond loopback, and the control routes then need the
    admin token."""
    from . import control, reload, sandbox, streams

    app = web.Application(
        client_max_size=settings.max_body, middlewares=[cors, record_exchange, errors]
    )
    # A reload keeps the default the first load had, however it was given.
    live = LiveLibrary(settings.library, settings.paths, settings.default or settings.library.default)
    checks = guard.Guard(host, frozenset(settings.allow_origins), frozenset(settings.allow_hosts))
    app[STATE] = State(settings, live, control_open, checks, journal=Journal(settings.journal_size))
    app.on_response_prepare.append(_cors_headers)
    app.on_shutdown.append(_drain)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    control.add_routes(app)
    streams.add_routes(app, settings.mounts)
    sandbox.add_routes(app)
    if settings.reload:
        app.cleanup_ctx.append(reload.watch)
    return app


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


# -- handlers --------------------------------------------------------------

async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    ask = openai_chat.parse(await json_body(request))
    scenario = router.select(state.library, ask, request.headers.get("X-Mockllm-Scenario"), strict=state.settings.strict)
    return await respond(request, scenario, ask, openai_chat)


async def respond(request: web.Request, scenario, ask, dialect, reshape=None, settle=None) -> web.StreamResponse:
    """Plan the response for ``scenario`` and play it: the part every route shares."""
    start = request[ARRIVED] if ARRIVED in request else asyncio.get_running_loop().time()
    state = request.app[STATE]
    session = session_key(request.headers.get("X-Mockllm-Session"), request.query.get("session"), request.remote)
    attempt = state.attempts.next(session, scenario.name)
    plan = functools.partial(
        pipeline.plan,
        scenario,
        ask,
        dialect,
        seed=state.settings.seed,
        session=session,
        attempt=attempt,
        speed=state.settings.speed,
        created=int(time.time()),
        chaos=state.settings.chaos,
        reshape=reshape,
        settle=settle,
        framed=True,
    )
    # A huge reply takes a while to compile: other clients must not wait for it.
    script = await asyncio.to_thread(plan) if is_large(scenario) else plan()
    labels = (("X-Mockllm-Scenario", scenario.name), ("X-Mockllm-Attempt", str(attempt)))
    if script.faults:
        labels += (("X-Mockllm-Faults", "; ".join(script.faults)),)  # labels are one line of ASCII
    played = player.Played()
    request[EXCHANGE].update(
        scenario=scenario.name, session=session, attempt=attempt, faults=script.faults,
        ignored_faults=script.ignored, played=played,
    )
    # The stream plays in a task of its own, so that each of its many wake-ups
    # resumes one coroutine instead of the whole chain of middlewares above.
    # Cancelling the handler (the client left) cancels the task it awaits.
    return await asyncio.get_running_loop().create_task(player.play(request, script, start, played, labels))


async def models(request: web.Request) -> web.Response:
    library = request.app[STATE].library
    data = [
        {"id": s.name, "object": "model", "created": 0, "owned_by": "mockllm", "description": s.description}
        for s in library.scenarios.values()
    ]
    return web.json_response({"object": "list", "data": data})


async def json_body(request: web.Request) -> object:
    """The decoded JSON body; 400 for bytes that are not UTF-8 JSON, 413 past the cap."""
    raw = await request.read()
    try:
        body = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        _note_request(request, request_summary(raw))
        raise RequestError(400, "The request body is not valid UTF-8.") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting too deep to decode
        _note_request(request, request_summary(raw))
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise RequestError(
            400,
            f"We could not parse the JSON body of your request ({reason}). "
            "The API expects a JSON object as the request body.",
        ) from None
    # A lone surrogate (``"\\ud800"``) decodes, but no UTF-8 can carry it: echoed
    # into a stream, an error or the journal it would break the response. Only a
    # body with a surrogate escape can hold one, so others pay one byte search.
    if _SURROGATE_ESCAPE.search(raw) and (lone := _lone_surrogate(body)) is not None:
        _note_request(request, request_summary(raw))
        raise RequestError(
            400,
            f"We could not parse the JSON body of your request (lone surrogate {lone!r} is not a character). "
            "The API expects a JSON object as the request body.",
        )
    # A small body is kept as decoded here (bytes bound its characters); no second decode.
    _note_request(request, body if len(raw) <= BODY_LIMIT else request_summary(raw))
    return body


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: object) -> str | None:
    """The first lone surrogate in a decoded body, if any: an escaped pair
    decodes to one character, so any surrogate left stands alone. Iterative:
    the body may be nested as deep as the decoder allows."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)  # keys
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and (found := _SURROGATE.search(item)):
            return found.group()
    return None


def _note_request(request: web.Request, summary: object) -> None:
    """Keep what the journal shows of the body."""
    if EXCHANGE in request:
        request[EXCHANGE]["request"] = summary


def _not_json(constant: str) -> object:
    """Python's decoder accepts NaN and Infinity; JSON, and the real API, do not."""
    raise ValueError(f"{constant} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_not_json)  # made once: json.loads with options makes one per call


# -- middlewares -----------------------------------------------------------

# When the request arrived (loop time): every delay of its script counts from here.
ARRIVED = web.RequestKey("arrived", float) if hasattr(web, "RequestKey") else "mockllm.arrived"
# What the handler learned, for the journal. RequestKey is aiohttp 3.12+;
# older versions take a plain string key without a warning.
EXCHANGE = web.RequestKey("exchange", dict) if hasattr(web, "RequestKey") else "mockllm.exchange"


@web.middleware
async def record_exchange(request: web.Request, handler) -> web.StreamResponse:
    """One journal entry and one log line per API exchange, however it ends.

    Handlers add what they learn to ``request[EXCHANGE]``; a cancelled handler
    (the client went away) is recorded before the cancellation goes on.
    """
    if request.method == "OPTIONS" or request.path == "/" or request.path.startswith("/static/") \
            or guard.is_control(request.path):
        return await handler(request)  # not an API exchange: the control plane and the sandbox
    loop = asyncio.get_running_loop()
    start = loop.time()
    arrived = time.time()
    exchange: dict = {}
    request[EXCHANGE] = exchange
    request[ARRIVED] = start
    exchanges = request.app[STATE].exchanges
    exchanges.begin(request)
    response = None
    failed = False
    try:
        response = await handler(request)
        return response
    except Exception:
        failed = True  # past the headers, the errors middleware lets it through: the stream broke
        raise
    finally:
        played = exchange.pop("played", None)
        status = played.status if played is not None else (response.status if response is not None else None)
        outcome = _outcome(played, response, failed)
        if outcome is Outcome.CLIENT_DISCONNECTED and exchanges.ending:
            outcome = Outcome.SERVER_SHUTDOWN  # cancelled as a departing client cancels, but by the server
        exchanges.end(request)
        entry = request.app[STATE].journal.record(
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
        )
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %s scenario=%s session=%s attempt=%s faults=%s outcome=%s tokens=%d bytes=%d %.3fs",
                entry.method, entry.route, entry.status or "-", entry.scenario or "-", entry.session or "-",
                entry.attempt or "-", "; ".join(entry.faults) or "-", entry.outcome.value, entry.tokens,
                entry.bytes, entry.duration,
            )


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
async def errors(request: web.Request, handler) -> web.StreamResponse:
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
        request[EXCHANGE].pop("played", None)  # nothing was sent: this response is the exchange's outcome
    return error_response(error)


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


def error_response(error: RequestError) -> web.Response:
    return web.Response(
        status=error.status,
        body=openai_chat.error_body(error),
        headers={"Content-Type": openai_chat.ERROR_CONTENT_TYPE, **error.headers},
    )


@web.middleware
async def cors(request: web.Request, handler) -> web.StreamResponse:
    """What browsers may do: no page may drive the control routes (guard.py),
    and preflights are answered for every other route before routing can
    refuse them (the grant itself is ``_cors_headers``)."""
    if guard.is_control(request.path):
        refusal = request.app[STATE].guard.refusal(request.headers.get("Host"), request.headers.get("Origin"))
        if refusal is not None:
            return error_response(refusal)  # a preflight refused gets no grant
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
        if not request.app[STATE].guard.grants(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = origin
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
