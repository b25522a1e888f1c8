"""The control routes under ``/_mockllm/``: shape the server at run time and
ask it what clients did.

    GET    /_mockllm/health             readiness, and the shared store's (503 while it is away)
    GET    /_mockllm/scenarios          name, description, source of each
    POST   /_mockllm/scenarios          add or replace one (YAML or JSON body)
    DELETE /_mockllm/scenarios/{name}   remove one
    GET    /_mockllm/journal            the exchanges (?scenario=, ?session=)
    GET    /_mockllm/verdicts           how a session's client behaved (?session=, ?max_retries=, ?stall_deadline=)
    POST   /_mockllm/reset              clear attempt counters and the journal
    GET    /metrics                     Prometheus metrics (metrics.py)
    GET    /healthz                     liveness: ``{"status": "ok"}``, to anyone (see ``probe``)
    GET    /readyz                      readiness, to anyone: 503 while the shared store is away

No web page may use them: a foreign ``Origin`` or ``Host`` is refused before
any of these handlers runs (guard.py, applied by the app's ``cors`` middleware).
Bound to loopback and with no admin token configured, they are open.
Otherwise they need the token as ``Authorization: Bearer <token>``: 401
without one, 403 with a wrong one, and 403 for everyone when the server is
bound beyond loopback with no token configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import os
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from . import verdicts as judging
from .errors import RequestError, ScenarioErrors
from .journal import Entry
from .library import LiveLibrary
from .metrics import CONTENT_TYPE, INSTALL, available
from .parse import NAME, parse_text
from .state import STATE, State
from .stores import Change, StoreUnavailable

ADDED = "(added at run time)"  # the source of a scenario added over HTTP

PREFIX = "/_mockllm"
PROBE = "/healthz"  # liveness
READY = "/readyz"  # readiness


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/scenarios", list_scenarios)
    app.router.add_post(f"{PREFIX}/scenarios", add_scenario)
    app.router.add_delete(f"{PREFIX}/scenarios/{{name}}", remove_scenario)
    app.router.add_get(f"{PREFIX}/journal", journal)
    app.router.add_get(f"{PREFIX}/verdicts", verdicts)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get("/metrics", metrics)
    app.router.add_get(PROBE, probe)
    app.router.add_get(READY, ready)


def _authorized(request: web.Request) -> State:
    """The server state, once the caller may use the control routes."""
    state = request.app[STATE]
    if state.control_open:
        return state
    token = state.settings.admin_token
    if token is None:
        raise RequestError(
            403, "The control routes are disabled: the server is not on loopback and has no --admin-token.",
            type="permission_error", code="control_disabled",
        )
    # The scheme is case-insensitive (RFC 9110 11.1); header bytes that are not
    # UTF-8 arrive as surrogates, which surrogateescape turns back into bytes.
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise RequestError(
            401, "The control routes need the admin token as 'Authorization: Bearer <token>'.",
            type="authentication_error", code="missing_admin_token",
            headers={"WWW-Authenticate": 'Bearer realm="mockllm"'},
        )
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode()):
        raise RequestError(403, "The admin token is not valid.", type="permission_error", code="invalid_admin_token")
    return state


async def probe(request: web.Request) -> web.Response:
    """Liveness for a container's ``HEALTHCHECK`` or a Kubernetes probe, which
    carry no token and come from the node's own address: it says only that
    the server answers, so it is open to anyone (no control route is:
    ``/_mockllm/health`` has the details under the control plane's rule)."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Readiness, open like ``probe``: a 503 while the shared store is away,
    since the requests that need it would get one. A restart would not bring
    the store back, so liveness (``probe``) stays 200 meanwhile."""
    if await request.app[STATE].store.problem() is not None:
        return web.json_response({"status": "unavailable", "reason": "the state store is unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus exposition of this server's metrics (``metrics.py``)."""
    state = _authorized(request)
    if state.metrics is None:
        raise RequestError(501, INSTALL if not available() else "Metrics are turned off on this server.",
                           code="metrics_unavailable")
    return web.Response(body=state.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


async def health(request: web.Request) -> web.Response:
    state = _authorized(request)
    # The task count lets a soak test see that finished and abandoned streams left nothing behind;
    # the pid, which of the --workers answered.
    tasks = len(asyncio.all_tasks())
    problem = await state.store.problem()
    return web.json_response(
        {"status": "ok" if problem is None else "unavailable", "scenarios": len(state.library.scenarios),
         "tasks": tasks, "pid": os.getpid(), "state": {"store": state.store.description, "problem": problem}},
        status=200 if problem is None else 503,
    )


async def list_scenarios(request: web.Request) -> web.Response:
    library = _authorized(request).library
    scenarios = [
        {
            "name": s.name,
            "description": s.description,
            "source": s.source,
            "default": s.name == library.default,
        }
        for s in library.scenarios.values()
    ]
    return web.json_response({"scenarios": scenarios})


async def add_scenario(request: web.Request) -> web.Response:
    """Validate the body exactly like a file; a bad one changes nothing."""
    state = _authorized(request)
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "The scenario is not UTF-8 text.") from None
    try:
        # JSON is YAML, so both parse here; off the loop, since a large
        # scenario takes a while and other clients must not wait for it.
        scenario = await asyncio.to_thread(parse_text, text, "<request>")
    except ScenarioErrors as exc:
        raise RequestError(
            422,
            "; ".join(f"line {p.line}: {p.message}" for p in exc.problems),
            param=exc.problems[0].keypath,
            code="invalid_scenario",
            details={"problems": [{"line": p.line, "message": p.message} for p in exc.problems]},
        ) from None
    scenario = dataclasses.replace(scenario, source=ADDED)
    replaced = scenario.name in state.library.scenarios
    await _changed(state, Change(scenario.name, text, scenario))
    warnings = [{"line": w.line, "message": w.message} for w in scenario.warnings]
    return web.json_response(
        {"name": scenario.name, "replaced": replaced, "warnings": warnings}, status=200 if replaced else 201
    )


async def remove_scenario(request: web.Request) -> web.Response:
    state = _authorized(request)
    name = request.match_info["name"]
    if not NAME.match(name) or name not in state.library.scenarios:
        raise RequestError(404, f"No scenario named {name!r}.", code="scenario_not_found")
    await _changed(state, Change(name, None))
    return web.Response(status=204)


async def _changed(state: State, change: Change) -> None:
    """Make ``change`` on every server that shares the store (this one included)."""
    with _needs_store("The scenarios were not changed"):
        await state.store.change(change)


@contextlib.contextmanager
def _needs_store(refusal: str) -> Iterator[None]:
    """A control route's 503, saying ``refusal``, while the shared store is away."""
    try:
        yield
    except StoreUnavailable as exc:
        raise RequestError(503, f"{refusal}: {exc}.", type="server_error", code="state_unavailable") from None


async def apply_change(scenarios: LiveLibrary, change: Change) -> None:
    """Apply a run-time change (made here, or on a sibling server) to this server's scenarios."""
    if change.text is None:
        scenarios.remove(change.name)
        return
    scenario = change.scenario
    if scenario is None:  # made on a sibling: parsed here, off the loop like any added scenario
        scenario = dataclasses.replace(await asyncio.to_thread(parse_text, change.text, "<request>"), source=ADDED)
    scenarios.add(scenario)


async def _entries(state: State) -> list[Entry]:
    with _needs_store("The journal cannot be read"):
        return await state.store.entries()


async def journal(request: web.Request) -> web.Response:
    state = _authorized(request)
    wanted = {key: request.query[key] for key in ("scenario", "session", "outcome") if key in request.query}
    entries = [entry.to_json() for entry in await _entries(state)]
    entries = [e for e in entries if all(e[key] == value for key, value in wanted.items())]
    return web.json_response({"entries": entries})


async def verdicts(request: web.Request) -> web.Response:
    """The verdicts on one session's client, from its journal entries."""
    state = _authorized(request)
    session = request.query.get("session")
    if not session:
        raise RequestError(400, "Name the session to judge: ?session=S.", param="session")
    limits = {
        "max_retries": _query_number(request, "max_retries", int, judging.MAX_RETRIES),
        "stall_deadline": _query_number(request, "stall_deadline", float, judging.STALL_DEADLINE),
    }
    entries = [entry for entry in await _entries(state) if entry.session == session]
    return web.json_response(judging.to_json(session, judging.judge(entries, **limits)))


def _query_number(request: web.Request, name: str, kind: type[int] | type[float], default: float) -> Any:
    """A query parameter that must be a finite number of ``kind``, 0 or more."""
    given = request.query.get(name)
    if given is None:
        return default
    try:
        value = kind(given)
    except ValueError:
        value = -1
    if not 0 <= value < float("inf"):
        raise RequestError(400, f"{name} must be a number, 0 or more; got {given!r}.", param=name)
    return value


async def reset(request: web.Request) -> web.Response:
    state = _authorized(request)
    with _needs_store("Nothing was reset"):
        await state.store.reset()
    return web.Response(status=204)
