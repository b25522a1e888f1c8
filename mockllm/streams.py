"""The browser-facing routes: EventSource streams and a front end's own backend.

    GET  /v1/stream/{scenario}   EventSource: retry, ids, resume, 204 when done
    POST <mount>                 ``{"message"}`` or ``{"messages"}`` in, a stream out
    GET  <mount>                 the same stream for EventSource

``serve --mount /api/chat=content`` adds a mount; its format is any in the
table (``dialects.DIALECTS``): ``content`` (``{"content": ...}`` frames),
``openai`` (chat completion chunks), or any other format's stream. A mount
wins over a format's own route on the same path (Ollama's ``/api/chat``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

from aiohttp import web

from . import eventsource, router
from .dialects import DIALECTS, Ask, Dialect, content
from .errors import RequestError
from .exchange import DIALECT, EXCHANGE, json_body, respond
from .scenario import Scenario
from .script import Script
from .state import STATE

OWN_ROUTES = ("/v1/", "/v1beta/", "/_mockllm/", "/static/")  # and "/": no mount may shadow these


def check_mounts(mounts: Iterable[tuple[str, str]]) -> None:
    """A ValueError saying why, for the first mount that cannot be served: an
    unknown format, a relative path, one of mockllm's own routes, or a path
    given twice (a path serves one format)."""
    formats: dict[str, str] = {}
    for path, format_ in mounts:
        if format_ not in DIALECTS:
            raise ValueError(f"{path}: unknown format {format_!r} (use {', '.join(DIALECTS)})")
        if not path.startswith("/"):
            raise ValueError(f"{path!r}: a mount path starts with /")
        if path == "/" or path.startswith(OWN_ROUTES):
            raise ValueError(f"{path} is one of mockllm's own routes")
        if path in formats:
            raise ValueError(f"{path} is mounted twice ({formats[path]}, then {format_}): give each path once")
        formats[path] = format_


def add_routes(app: web.Application, mounts: tuple[tuple[str, str], ...]) -> None:
    check_mounts(mounts)
    app.router.add_get("/v1/stream/{scenario}", stream)
    for path, format_ in mounts:
        app.router.add_post(path, functools.partial(mounted_post, dialect=DIALECTS[format_]))
        app.router.add_get(path, functools.partial(mounted_get, dialect=DIALECTS[format_]))


def mounted(mounts: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The method and path pairs the mounts serve."""
    return {(method, path) for path, _ in mounts for method in ("GET", "POST")}


def _format(request: web.Request, default: str = "openai") -> Dialect:
    name = request.query.get("format", default)
    if name not in DIALECTS:
        raise RequestError(400, f"Unknown format {name!r}: use {', '.join(DIALECTS)}.", param="format")
    return DIALECTS[name]


async def stream(request: web.Request) -> web.StreamResponse:
    """``EventSource`` on one scenario, named in the path."""
    library = request.app[STATE].library
    name = request.match_info["scenario"]
    scenario = library.get(name)
    if scenario is None:
        raise router.not_found(library, f"No scenario named {name!r}.")
    return await _event_source(request, scenario, _format(request))


async def mounted_get(request: web.Request, *, dialect: Dialect) -> web.StreamResponse:
    """``EventSource`` at a mount: the scenario by header, ``?scenario=``, or ``?prompt=`` rules."""
    request[DIALECT] = dialect
    scenario = _select(request, Ask(model="", prompt=request.query.get("prompt", ""), stream=True), dialect)
    return await _event_source(request, scenario, dialect)


async def mounted_post(request: web.Request, *, dialect: Dialect) -> web.StreamResponse:
    """A front end's own backend route: the body's message selects by ``match`` rules,
    and the reply streams in the mount's format."""
    request[DIALECT] = dialect
    ask = content.parse(await json_body(request))
    scenario = _select(request, ask, dialect)
    return await respond(request, scenario, dataclasses.replace(ask, model=ask.model or scenario.name), dialect)


def _select(request: web.Request, ask: Ask, dialect: Dialect) -> Scenario:
    state = request.app[STATE]
    named = request.headers.get("X-Mockllm-Scenario") or request.query.get("scenario")
    return router.select(state.library, ask, named, headers=request.headers, format=dialect.name)


async def _event_source(request: web.Request, scenario: Scenario, dialect: Dialect) -> web.StreamResponse:
    ask = Ask(model=scenario.name, prompt=request.query.get("prompt", ""), stream=True)
    scenario = router.turn_of(scenario, ask)  # a GET carries no conversation: a conversation's first turn
    sent_id = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    # A GET has no body to keep: the journal keeps what the reconnect asked instead.
    request[EXCHANGE]["request"] = {"last_event_id": sent_id, "query": dict(request.query)}
    resume = eventsource.last_event_id(sent_id)

    def reshape(compiled: Script, run: Scenario) -> Script:
        return eventsource.numbered(compiled, retry=run.timing.retry, last_event_id=resume)

    settle = eventsource.settled if resume is not None else None
    return await respond(request, scenario, ask, dialect, reshape=reshape, settle=settle)
